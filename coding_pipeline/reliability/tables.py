"""A reliability result as tables: the plain-text table the CLI prints (`format_table`) and
the flat tables of the CSV files (`flat_table`, `flatten`, `by_variable`); the number
formats the HTML report shares. Pure.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def number_text(value: float | None, digits: int = 3, missing: str = "-") -> str:
    """A statistic with `digits` decimals; `missing` when undefined."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return missing
    return f"{value:.{digits}f}"


def percent_text(value: float | None, missing: str = "-") -> str:
    """A share as a whole percentage; `missing` when undefined."""
    return missing if value is None else f"{100 * value:.0f}%"


def interval_text(ci, missing: str = "-") -> str:
    """An interval as [low, high] with 2 decimals; `missing` when undefined."""
    return missing if not ci or ci[0] is None else f"[{ci[0]:.2f}, {ci[1]:.2f}]"


def _rows(result: dict):
    for kind in ("items", "composites"):
        for name, entry in result.get(kind, {}).items():
            yield kind[:-1], name, entry


TABLE_NOTE = ("alpha: items ordinal, composites interval; bands: >= .800 reliable, "
              ".667-.800 tentative, < .667 unreliable (Krippendorff), from the point estimate "
              "and from the interval's lower bound. ICC(A,1): absolute agreement of one coder, "
              "from REML variance components. AC2: Gwet's AC2 ")


def format_table(result: dict) -> str:
    """A plain-text reliability table: one line per item and composite."""
    lines = _variable_lines(result)
    not_computed: dict[str, list[str]] = {}
    for _, name, entry in _rows(result):
        for why in dict.fromkeys(entry["reasons"].values()):
            not_computed.setdefault(why, []).append(name)
    if not_computed:
        lines += ["", "Not computed:"] + [f"  {why}: {', '.join(names)}"
                                          for why, names in not_computed.items()]
    lines += ["", TABLE_NOTE
              + f"({result.get('settings', {}).get('ac2_weights', 'quadratic')} weights)."]
    return "\n".join(lines + _d_study_lines(result) + _coder_lines(result))


def _variable_lines(result: dict) -> list[str]:
    """The header and one line per item and composite (a blank line between the two)."""
    units = "clips" if result.get("unit", "clip") == "clip" else "units"
    header = (f"{'item / composite':<32} {'alpha':>6} {'95% CI':<15} {'ICC(A,1)':<18} "
              f"{'AC2':>5} {'exact':>5} {'+-1':>5} {units:>5} {'coders':>6}  band")
    lines = [header, "-" * len(header)]
    previous_kind = "item"
    for kind, name, entry in _rows(result):
        if kind != previous_kind:
            lines.append("")
            previous_kind = kind
        alpha, icc = entry["alpha"], entry["icc"]
        icc_text = ("-" if icc.get("value") is None else f"{icc['value']:.2f}" + (
            f" {interval_text(icc['ci'])}" if icc.get("ci") else ""))
        ac2 = entry.get("gwet_ac2", {}).get("value")
        ac2_text = "" if "gwet_ac2" not in entry else number_text(ac2)[:5]
        label = name if kind == "item" else f"{name} (composite)"
        lines.append(
            f"{label:<32} {number_text(alpha['value']):>6} "
            f"{interval_text(alpha.get('ci')):<15} {icc_text:<18} "
            f"{ac2_text:>5} {percent_text(entry['exact_agreement']):>5} "
            f"{percent_text(entry['within_one_agreement']):>5} "
            f"{entry['n_clips']:>5} {entry['n_coders']:>6}  {entry['band']} "
            f"(lower bound: {entry.get('band_lower', 'undefined')})"
        )
    return lines


INTERVIEW_TITLE = "Interviews (reflective functioning), each interview a unit:"


def format_interview_table(result: dict) -> str:
    """`format_table` of an interview result, under its title."""
    return f"{INTERVIEW_TITLE}\n{format_table(result)}"


def _d_study_lines(result: dict) -> list[str]:
    lines = []
    for name, study in result.get("d_study", {}).items():
        if "g" in study:
            needed = ", ".join(
                f"{n['clips_per_session'] or '> 200'} clips with {n['coders_per_clip']} coder(s)"
                for n in study["needed"])
            lines.append(
                f"D-study {name}: session score G {study['g']:.2f}, Phi {study['phi']:.2f} "
                f"({study['design']['clips_per_session']:g} clips per session, "
                f"{study['design']['coders_per_clip']:g} coder(s) per clip); G >= "
                f"{study['needed'][0]['g_min']:.2f} needs {needed}")
    return lines


def _judged_text(trainee: dict) -> str:
    """What a certification entry's judgement rests on, in a few words."""
    criteria, kind = trainee["criteria"], trainee.get("kind", "certification")
    source = "training" if kind == "certification" else "master-rated"
    if "icc_overall_min" in criteria:  # interviews
        overall = next((e for e in trainee["items"].values() if "icc" in e), {})
        return (f"overall ICC(A,1) {number_text(overall.get('icc'), 2)} (>= "
                f"{criteria['icc_overall_min']:.2f}), {trainee['items_passing']} of "
                f"{len(trainee['items']) - 1} demand questions within-one >= "
                f"{criteria['demand_within_one_min']:.0%}, {trainee['n_clips']} {source} "
                "interviews")
    return (f"{trainee['items_passing']} of {len(trainee['items'])} items within-one >= "
            f"{criteria['item_within_one_min']:.0%}, {trainee['n_clips']} {source} clips")


def _coder_lines(result: dict) -> list[str]:
    """Certification and recertification of each coder, and the recalibration flags."""
    lines = []
    for trainee in result.get("certification", []):
        kind = trainee.get("kind", "certification")
        why = f": {'; '.join(trainee['reasons'])}" if trainee["reasons"] else ""
        lines.append(
            f"{kind} {trainee['coder']}: {trainee['status']} ({_judged_text(trainee)}, "
            f"{trainee.get('date') or 'no date'}){why}"
        )
    units = "interviews" if result.get("unit") == "interview" else "clips"
    for flag in result.get("recalibration", []):
        if flag["status"] == "recalibrate":
            lines.append(
                f"recalibrate {flag['coder']}: over their last {flag['n_clips']} double-coded "
                f"{units} alpha {number_text(flag['alpha'])}, within-one "
                f"{percent_text(flag['within_one_agreement'])} over all items against the "
                f"other coders, below the certification criteria ({'; '.join(flag['reasons'])})"
                "; see `batch create --recalibrate`.")
    return lines


def flat_table(result: dict) -> pd.DataFrame:
    """One row per item and composite with every statistic in its own column."""
    rows = []
    for kind, name, entry in _rows(result):
        alpha, icc = entry["alpha"], entry["icc"]
        row = {
            "kind": kind, "id": name, "alpha": alpha["value"], "alpha_level": alpha["level"],
            "alpha_ci_low": (alpha.get("ci") or [None, None])[0],
            "alpha_ci_high": (alpha.get("ci") or [None, None])[1],
            "alpha_resamples": alpha["resamples"],
            "alpha_undefined_resamples": alpha.get("undefined_resamples"),
            "alpha_p_below_min": alpha.get("p_below_min"),
            "icc_form": icc.get("form"), "icc": icc.get("value"),
            "icc_ci_low": (icc.get("ci") or [None, None])[0],
            "icc_ci_high": (icc.get("ci") or [None, None])[1], "icc_band": icc.get("band"),
            "icc_band_lower": icc.get("band_lower"), "icc_ci_method": icc.get("ci_method"),
        }
        for form, found in entry["icc_forms"].items():
            label = form.replace("(", "_").replace(",", "").replace(")", "")
            row[label] = found["value"]
            row[f"{label}_ci_low"] = (found.get("ci") or [None, None])[0]
            row[f"{label}_ci_high"] = (found.get("ci") or [None, None])[1]
            if "k" in found:
                row[f"{label}_k"] = found["k"]
        for component in ("clip", "coder", "residual"):
            row[f"variance_{component}"] = entry["variance_components"].get(component)
        if "gwet_ac2" in entry:
            ac2 = entry["gwet_ac2"]
            row.update({"ac2": ac2["value"], "ac2_se": ac2["se"],
                        "ac2_ci_low": (ac2.get("ci") or [None, None])[0],
                        "ac2_ci_high": (ac2.get("ci") or [None, None])[1],
                        "ac2_weights": ac2["weights"]})
        row.update({
            "exact_agreement": entry["exact_agreement"],
            "within_one_agreement": entry["within_one_agreement"],
            "n_clips": entry["n_clips"], "n_coders": entry["n_coders"], "band": entry["band"],
            "band_lower": entry.get("band_lower"),
            "reasons": "; ".join(f"{k}: {v}" for k, v in entry["reasons"].items()),
        })
        rows.append(row)
    return pd.DataFrame(rows)


def _flat_row(entry: dict, prefix: str = "") -> dict:
    """One nested dict as flat columns (icc.value -> icc_value; two-element lists -> _low and
    _high; other lists joined by ' / ')."""
    row: dict = {}
    for key, value in entry.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            row.update(_flat_row(value, f"{name}_"))
        elif isinstance(value, list) and len(value) == 2 and all(
                v is None or isinstance(v, float | int) for v in value):
            row[f"{name}_low"], row[f"{name}_high"] = value
        elif isinstance(value, list):
            row[name] = " / ".join(map(str, value))
        else:
            row[name] = value
    return row


def flatten(entries: list[dict], empty_columns: list[str]) -> pd.DataFrame:
    """Rows of nested dicts as flat columns; with no rows, just the header `empty_columns`."""
    if not entries:
        return pd.DataFrame(columns=empty_columns)
    return pd.DataFrame([_flat_row(entry) for entry in entries])


def by_variable(entries: list[dict], keys: list[str], kind_column: str = "kind") -> list[dict]:
    """Certification or drift entries as one row per entry x item/composite (named in
    `kind_column` and `id`)."""
    rows = []
    for entry in entries:
        head = {key: entry[key] for key in keys if key in entry}
        for kind in ("items", "composites"):
            for name, found in entry[kind].items():
                rows.append(head | {kind_column: kind[:-1], "id": name} | found)
    return rows
