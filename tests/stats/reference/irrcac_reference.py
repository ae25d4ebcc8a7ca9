"""Reference values of Gwet's AC2 and weighted (Conger = Cohen for two coders) kappa from
irrCAC 0.4.4, for tests/stats/test_stats_gwet.py.

irrCAC pins old scipy/pandas, so it runs in its own environment, never in the package's:

    python3 -m venv /tmp/irrcac-venv && /tmp/irrcac-venv/bin/pip install irrCAC==0.4.4
    /tmp/irrcac-venv/bin/python tests/stats/reference/irrcac_reference.py

Writes the rating sets (gwet_sets.csv: set, unit, coder, value) and irrCAC's printed results
(irrcac_values.json: value, se, ci rounded to irrCAC's 5 decimals).
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
from irrCAC.raw import CAC

HERE = Path(__file__).parent
CATEGORIES = [1, 2, 3, 4, 5]


def rating_sets() -> dict[str, pd.DataFrame]:
    """units x coders frames (NaN = not rated)."""
    rng = np.random.default_rng(2026)
    sets = {}
    # skewed: most ratings 4-5, 3 coders, incomplete, some units rated once (kappa paradox)
    truth = rng.choice([3, 4, 5], size=60, p=[0.05, 0.35, 0.6])
    noisy = np.clip(truth[:, None] + rng.choice([-1, 0, 0, 0, 1], size=(60, 3)), 1, 5).astype(float)
    noisy[rng.random((60, 3)) < 0.35] = np.nan
    sets["skewed"] = pd.DataFrame(noisy, columns=["a", "b", "c"])
    # spread: 1-5, 4 coders, rotating pairs plus complete clips
    truth = rng.integers(1, 6, size=80)
    spread = np.clip(truth[:, None] + rng.integers(-1, 2, size=(80, 4)), 1, 5).astype(float)
    for unit in range(80):
        if unit % 4:
            keep = {(unit + 1) % 4, (unit + 2) % 4}
            for coder in range(4):
                if coder not in keep:
                    spread[unit, coder] = np.nan
    sets["spread"] = pd.DataFrame(spread, columns=["a", "b", "c", "d"])
    # pair: two coders, complete, for kappa
    truth = rng.integers(1, 6, size=50)
    pair = np.clip(truth[:, None] + rng.choice([-2, -1, 0, 0, 1], size=(50, 2)), 1, 5)
    sets["pair"] = pd.DataFrame(pair.astype(float), columns=["a", "b"])
    return sets


def main() -> None:
    sets = rating_sets()
    long = pd.concat([
        frame.rename_axis("unit").reset_index().melt("unit", var_name="coder").assign(set=name)
        for name, frame in sets.items()])
    long = long.dropna(subset=["value"])[["set", "unit", "coder", "value"]]
    long.to_csv(HERE / "gwet_sets.csv", index=False)
    values = {}
    for name, frame in sets.items():
        for weights in ("quadratic", "linear", "ordinal", "identity"):
            est = CAC(frame, weights=weights, categories=CATEGORIES).gwet()["est"]
            values[f"gwet/{name}/{weights}"] = {
                "value": float(est["coefficient_value"]), "se": float(est["se"]),
                "ci": [float(x) for x in est["confidence_interval"]]}
        if name == "pair":
            for weights in ("quadratic", "linear"):
                est = CAC(frame, weights=weights, categories=CATEGORIES).conger()["est"]
                values[f"kappa/{name}/{weights}"] = {
                    "value": float(est["coefficient_value"]), "se": float(est["se"]),
                    "ci": [float(x) for x in est["confidence_interval"]]}
    (HERE / "irrcac_values.json").write_text(json.dumps(values, indent=1) + "\n")
    print(json.dumps(values, indent=1))


if __name__ == "__main__":
    main()
