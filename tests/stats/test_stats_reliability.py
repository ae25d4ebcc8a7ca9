"""compute_reliability: layout, agreement with the statistics, form choice, errors, files."""

import json

import krippendorff
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from coding_pipeline.errors import PipelineError
from coding_pipeline.reliability import (
    CertificationCriteria,
    band,
    compute_reliability,
    format_table,
    icc_band,
    reliability_study,
)
from coding_pipeline.scheme import parse_scheme
from coding_pipeline.stats.gwet import weighted_kappa
from coding_pipeline.stats.icc import icc_a1, icc_oneway, shrout_fleiss_forms
from coding_pipeline.study import init_study

SCHEME = parse_scheme({
    "name": "mini", "version": 1, "scale": {"min": 1, "max": 5},
    "items": [
        {"id": "warmth", "label": "Warmth"},
        {"id": "praise", "label": "Praise"},
        {"id": "intrusive", "label": "Intrusive", "reverse": True},
    ],
    "composites": [{"id": "sensitivity", "label": "Sensitivity",
                    "items": ["warmth", "praise", "intrusive"]}],
})


def simulated_ratings(n_clips=40, coders=("a@lab.org", "b@lab.org"), seed=0, subsets=False):
    """Two or three coders rating every item of every clip with one-point noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for clip in range(n_clips):
        truth = rng.integers(1, 6)
        raters = coders if not subsets else [c for c in coders if rng.random() < 0.8] or coders
        for index, coder in enumerate(raters):
            for item in ("warmth", "praise", "intrusive"):
                value = int(np.clip(truth + rng.integers(-1, 2), 1, 5))
                rows.append({
                    "clip_id": f"clip{clip:03d}", "coder": coder, "item": item,
                    "value": str(value if item != "intrusive" else 6 - value),
                    "role": "primary" if index == 0 else "reliability", "status": "rated",
                    "batch": f"batch-{clip // 20 + 1}",
                    "created_at": f"2026-0{clip // 20 + 1}-10T12:00:00+00:00",
                    "updated_at": f"2026-0{clip // 20 + 1}-10T12:00:00+00:00",
                })
    return pd.DataFrame(rows)


def test_layout_and_item_alpha_match_the_krippendorff_package():
    ratings = simulated_ratings()
    result = compute_reliability(ratings, SCHEME, bootstrap=200, seed=1)
    assert set(result) >= {"items", "composites", "pairs", "certification", "drift"}
    entry = result["items"]["warmth"]
    assert set(entry) >= {"alpha", "icc", "exact_agreement", "within_one_agreement",
                          "n_clips", "n_coders"}
    assert set(entry["alpha"]) >= {"value", "level", "ci", "resamples"}
    assert set(entry["icc"]) >= {"form", "value", "ci"}
    rows = ratings[ratings["item"] == "warmth"]
    data = rows.pivot(index="coder", columns="clip_id", values="value").astype(float).to_numpy()
    reference = krippendorff.alpha(reliability_data=data, level_of_measurement="ordinal",
                                   value_domain=[1, 2, 3, 4, 5])
    assert entry["alpha"]["value"] == pytest.approx(reference, abs=1e-6)
    assert entry["alpha"]["level"] == "ordinal"
    low, high = entry["alpha"]["ci"]
    assert low < entry["alpha"]["value"] < high
    assert entry["alpha"]["resamples"] == 200
    assert 0 <= entry["alpha"]["p_below_min"] <= 1
    strict = compute_reliability(ratings, SCHEME, bootstrap=200, seed=1, alpha_min=0.99)
    assert strict["items"]["warmth"]["alpha"]["p_below_min"] == 1.0
    assert entry["icc"]["form"] == "ICC(A,1)"  # every clip rated by the same two coders
    assert entry["icc"]["band"] in {"poor", "moderate", "good", "excellent"}
    assert (entry["n_clips"], entry["n_coders"]) == (40, 2)
    differences = np.abs(data[0] - data[1])
    assert entry["exact_agreement"] == pytest.approx((differences == 0).mean(), abs=1e-6)
    assert entry["within_one_agreement"] == pytest.approx((differences <= 1).mean(), abs=1e-6)
    json.dumps(result)  # plain JSON types throughout


def test_composite_alpha_is_interval_on_reverse_keyed_means():
    ratings = simulated_ratings(seed=3)
    result = compute_reliability(ratings, SCHEME, bootstrap=0)
    values = ratings.assign(value=ratings["value"].astype(float))
    flip = values["item"] == "intrusive"
    values.loc[flip, "value"] = 6 - values.loc[flip, "value"]
    means = values.groupby(["coder", "clip_id"])["value"].mean().unstack("clip_id")
    reference = krippendorff.alpha(reliability_data=means.to_numpy(),
                                   level_of_measurement="interval")
    entry = result["composites"]["sensitivity"]
    assert entry["alpha"]["level"] == "interval"
    assert entry["alpha"]["value"] == pytest.approx(reference, abs=1e-6)
    assert entry["alpha"]["value"] > result["items"]["warmth"]["alpha"]["value"] - 0.3


def test_the_headline_stays_icc_a1_when_clips_have_different_coders():
    """Issue 11: one table, one form. The one-way ICC(1) is still given among the forms."""
    ratings = simulated_ratings(coders=("a@lab.org", "b@lab.org", "c@lab.org"), subsets=True)
    result = compute_reliability(ratings, SCHEME, bootstrap=0)
    entry = result["items"]["praise"]
    assert entry["icc"]["form"] == "ICC(A,1)" and entry["n_coders"] == 3
    assert entry["icc"]["value"] == entry["icc_forms"]["ICC(A,1)"]["value"]
    assert "Monte Carlo" in entry["icc"]["ci_method"]
    rows = ratings[ratings["item"] == "praise"].assign(value=lambda t: t["value"].astype(float))
    matrix = rows.pivot(index="clip_id", columns="coder", values="value").to_numpy()
    oneway = icc_oneway(matrix[(~np.isnan(matrix)).sum(axis=1) >= 2])
    assert entry["icc_forms"]["ICC(1)"]["value"] == pytest.approx(oneway.value, abs=1e-6)
    assert entry["icc_forms"]["ICC(1)"]["ci"] == pytest.approx(list(oneway.ci), abs=1e-6)
    components = entry["variance_components"]
    assert components["method"] == "REML"
    assert entry["icc"]["value"] == pytest.approx(
        components["clip"] / (components["clip"] + components["coder"]
                              + components["residual"]), abs=1e-5)


def test_pairs_give_kappa_and_agreement_per_item_and_pooled():
    ratings = simulated_ratings()
    result = compute_reliability(ratings, SCHEME, bootstrap=0)
    warmth = next(p for p in result["pairs"] if p["item"] == "warmth")
    rows = ratings[ratings["item"] == "warmth"].pivot(
        index="clip_id", columns="coder", values="value").astype(float)
    expected = weighted_kappa(rows["a@lab.org"], rows["b@lab.org"], np.arange(1, 6)).value
    assert warmth["coders"] == ["a@lab.org", "b@lab.org"]
    assert warmth["kappa"] == pytest.approx(expected, abs=1e-6)
    pooled = next(p for p in result["pairs"] if p["item"] is None)
    assert pooled["n_clips"] == 40


@pytest.mark.parametrize(("value", "expected"), [
    (None, "undefined"), (0.49, "poor"), (0.5, "moderate"), (0.75, "good"), (0.9, "good"),
    (0.91, "excellent"),
])
def test_icc_bands_of_koo_and_li(value, expected):
    assert icc_band(value) == expected


@pytest.mark.parametrize(("value", "expected"), [
    (None, "undefined"), (0.5, "unreliable"), (0.667, "tentative"), (0.799, "tentative"),
    (0.8, "reliable"),
])
def test_alpha_bands_of_krippendorff(value, expected):
    assert band(value) == expected


def test_undefined_statistics_are_null_with_a_reason():
    one_clip = simulated_ratings(n_clips=1)
    entry = compute_reliability(one_clip, SCHEME, bootstrap=50)["items"]["warmth"]
    assert entry["alpha"]["value"] is None and "only one clip" in entry["alpha"]["reason"]
    assert entry["icc"]["value"] is None and entry["icc"]["reason"]
    same = simulated_ratings(n_clips=5).assign(value="3")
    entry = compute_reliability(same, SCHEME, bootstrap=50)["items"]["warmth"]
    assert entry["alpha"]["value"] is None and "same value" in entry["alpha"]["reason"]
    assert entry["exact_agreement"] == 1.0
    single = simulated_ratings(n_clips=5, coders=("a@lab.org",))
    entry = compute_reliability(single, SCHEME, bootstrap=50)["items"]["warmth"]
    assert entry["n_clips"] == 0
    assert entry["exact_agreement"] is None and entry["reasons"]["exact_agreement"]
    assert "not computed" in format_table(compute_reliability(single, SCHEME, 0)).lower()


def test_only_rated_independent_ratings_count():
    ratings = simulated_ratings()
    extra = ratings.head(3).assign(coder="x@lab.org", status="skipped", value="1")
    consensus = ratings.head(3).assign(coder="c@lab.org", role="consensus", value="1")
    result = compute_reliability(pd.concat([ratings, extra, consensus]), SCHEME, bootstrap=0)
    baseline = compute_reliability(ratings, SCHEME, bootstrap=0)
    assert result["items"] == baseline["items"]


def test_without_optional_columns():
    ratings = simulated_ratings()[["clip_id", "coder", "item", "value"]]
    result = compute_reliability(ratings, SCHEME, bootstrap=0)
    assert result["items"]["warmth"]["n_clips"] == 40
    assert result["drift"] == {"by_batch": [], "by_month": []}


@pytest.mark.parametrize(("change", "message"), [
    (lambda t: t.drop(columns=["item"]), "missing column.*item"),
    (lambda t: t.assign(value=t["value"].where(t.index != 3, "7")),
     r"line 5: value '7' for item 'warmth' \(clip clip000, coder b@lab.org\).*scale 1-5"),
    (lambda t: t.assign(value=t["value"].where(t.index != 2, "three")), r"line 4: value 'three'"),
    (lambda t: t.assign(value=t["value"].where(t.index != 2, "2.5")), r"line 4: value '2.5'"),
    (lambda t: t.assign(item=t["item"].where(t.index != 0, "empathy")),
     r"line 2: item 'empathy' is not in the scheme"),
])
def test_bad_ratings_get_a_clear_message(change, message):
    with pytest.raises(PipelineError, match=message):
        compute_reliability(change(simulated_ratings()), SCHEME, bootstrap=0, source="r.csv")


def test_certification_against_the_master():
    rows = []
    rng = np.random.default_rng(4)
    for clip in range(30):
        truth = int(rng.integers(1, 6))
        for item in ("warmth", "praise", "intrusive"):
            good = int(np.clip(truth + (rng.random() < 0.1), 1, 5))
            for coder, role, value in [("m@lab.org", "master", truth),
                                       ("good@lab.org", "training", good),
                                       ("new@lab.org", "training", int(rng.integers(1, 6)))]:
                rows.append({"clip_id": f"t{clip}", "coder": coder, "item": item,
                             "value": value, "role": role})
    result = compute_reliability(pd.DataFrame(rows), SCHEME, bootstrap=0)
    status = {c["coder"]: c for c in result["certification"]}
    assert status["good@lab.org"]["status"] == "pass"
    assert status["good@lab.org"]["n_clips"] == 30 and status["good@lab.org"]["reasons"] == []
    assert set(status["good@lab.org"]["items"]) == {"warmth", "praise", "intrusive"}
    assert status["new@lab.org"]["status"] == "fail"
    assert any("sensitivity alpha" in why for why in status["new@lab.org"]["reasons"])
    assert result["items"]["warmth"]["n_clips"] == 0  # training ratings are not study ratings


def test_drift_by_batch_and_month():
    result = compute_reliability(simulated_ratings(), SCHEME, bootstrap=0)
    assert [g["group"] for g in result["drift"]["by_batch"]] == ["batch-1", "batch-2"]
    assert [g["group"] for g in result["drift"]["by_month"]] == ["2026-01", "2026-02"]
    assert all(g["n_clips"] == 20 for g in result["drift"]["by_batch"])


def test_reliability_study_writes_json_and_csv(tmp_path):
    study = init_study(tmp_path / "study")
    scheme_text = study.scheme_path.read_text()
    assert "sensitivity" in scheme_text
    from coding_pipeline.scheme import load_scheme

    scheme = load_scheme(study.scheme_path)
    rng = np.random.default_rng(0)
    rows = [{"clip_id": f"c{c}", "coder": coder, "item": item.id,
             "value": int(rng.integers(1, 6)), "status": "rated", "batch": f"b{c % 2}",
             "created_at": "2026-03-01T09:00:00Z"}
            for c in range(10) for coder in ("a@lab.org", "b@lab.org") for item in scheme.items]
    pd.DataFrame(rows).to_csv(study.ratings_csv, index=False)
    result = reliability_study(study)
    saved = json.loads((study.reliability_dir / "reliability.json").read_text())
    assert saved["items"].keys() == result["items"].keys()
    flat = pd.read_csv(study.reliability_dir / "reliability.csv")
    assert len(flat) == len(scheme.items) + len(scheme.composites)
    assert saved["settings"]["seed"] == study.config.seed
    pairs = pd.read_csv(study.reliability_dir / "pairs.csv")
    assert {"coders", "item", "kappa", "exact_agreement", "within_one_agreement"} <= set(pairs)
    assert len(pairs) == len(saved["pairs"])
    drift = pd.read_csv(study.reliability_dir / "drift.csv")
    variables = len(scheme.items) + len(scheme.composites)
    assert drift[["by", "group"]].drop_duplicates().values.tolist() == [
        ["batch", "b0"], ["batch", "b1"], ["month", "2026-03"]]
    assert len(drift) == 3 * variables  # per item and composite, never pooled
    assert drift.groupby(["by", "group"])["n_clips"].max().tolist() == [5, 5, 10]
    assert (study.reliability_dir / "certification.csv").is_file()
    table = format_table(result)
    for item in scheme.items:
        assert item.id in table


def training_and_coding_ratings():
    """A training batch (master m, trainee t) on 10 clips, then a coding batch reusing them with
    t as primary and r as reliability coder. On clips 0-4 the training rating is the later one,
    on 5-9 the coding rating is: either way neither may replace the other."""
    rng = np.random.default_rng(7)
    rows = []
    for clip in range(10):
        truth = int(rng.integers(1, 6))
        training_day, coding_day = ("05", "02") if clip < 5 else ("01", "09")
        for batch, day, raters in (
                ("training-01", training_day, (("m@lab.org", "master"), ("t@lab.org", "training"))),
                ("batch-01", coding_day, (("t@lab.org", "primary"), ("r@lab.org", "reliability")))):
            for coder, role in raters:
                for item in ("warmth", "praise", "intrusive"):
                    value = int(np.clip(truth + rng.integers(-1, 2), 1, 5))
                    stamp = f"2026-03-{day}T10:00:00+00:00"
                    rows.append({"clip_id": f"clip{clip}", "coder": coder, "item": item,
                                 "value": str(value), "role": role, "batch": batch,
                                 "status": "rated", "created_at": stamp, "updated_at": stamp})
    return pd.DataFrame(rows)


def test_training_and_coding_ratings_of_one_clip_are_both_kept():
    ratings = training_and_coding_ratings()
    result = compute_reliability(ratings, SCHEME, bootstrap=0)
    trainee = next(c for c in result["certification"] if c["coder"] == "t@lab.org")
    assert trainee["n_clips"] == 10  # every training clip, not only those rated later
    assert result["items"]["warmth"]["n_clips"] == 10  # every coding clip double-coded
    coding = ratings[ratings["batch"] == "batch-01"]
    assert compute_reliability(coding, SCHEME, bootstrap=0)["items"] == result["items"]
    assert result["warnings"] == []


def test_without_a_batch_column_the_role_separates_training_from_coding():
    ratings = training_and_coding_ratings().drop(columns=["batch"])
    result = compute_reliability(ratings, SCHEME, bootstrap=0)
    trainee = next(c for c in result["certification"] if c["coder"] == "t@lab.org")
    assert trainee["n_clips"] == 10
    assert result["items"]["warmth"]["n_clips"] == 10


def test_conflicting_duplicates_keep_the_latest_and_are_reported():
    ratings = simulated_ratings(n_clips=4)[["clip_id", "coder", "item", "value"]]
    first = ratings.iloc[0]
    changed = "5" if first["value"] != "5" else "1"
    again = pd.DataFrame([first.to_dict() | {"value": changed}, ratings.iloc[1].to_dict()])
    result = compute_reliability(pd.concat([ratings, again], ignore_index=True), SCHEME,
                                 bootstrap=0, source="hand.csv")
    last_line = len(ratings) + 2  # header is line 1
    assert len(result["warnings"]) == 1  # the identical duplicate needs no warning
    warning = result["warnings"][0]
    for part in ("hand.csv", f"clip {first['clip_id']}", f"coder {first['coder']}",
                 f"item {first['item']}", f"lines 2, {last_line}", f"kept line {last_line}"):
        assert part in warning
    kept = compute_reliability(pd.concat([ratings.iloc[1:], again.iloc[:1]]), SCHEME, 0)
    assert result["items"] == kept["items"]


def test_pair_statistics_on_one_clip_are_null_with_a_reason():
    result = compute_reliability(simulated_ratings(n_clips=1), SCHEME, bootstrap=0)
    assert result["pairs"]
    for pair in result["pairs"]:  # per item and pooled over items
        assert pair["n_clips"] == 1
        assert pair["kappa"] is None and "one clip" in pair["reasons"]["kappa"]


def test_pair_kappa_is_null_when_a_coder_gave_one_value_throughout():
    ratings = simulated_ratings(n_clips=6)
    steady = (ratings["coder"] == "a@lab.org") & (ratings["item"] == "warmth")
    ratings.loc[steady, "value"] = "3"
    warmth = next(p for p in compute_reliability(ratings, SCHEME, bootstrap=0)["pairs"]
                  if p["item"] == "warmth")
    assert warmth["kappa"] is None
    assert "a@lab.org gave one value throughout" in warmth["reasons"]["kappa"]


def _not_finite(value, path=""):
    """Paths of NaN/inf numbers anywhere in a nested result."""
    if isinstance(value, float) and not np.isfinite(value):
        yield path
    elif isinstance(value, dict):
        for key, inner in value.items():
            yield from _not_finite(inner, f"{path}.{key}")
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _not_finite(inner, f"{path}[{index}]")


@pytest.mark.parametrize("ratings", [
    simulated_ratings(n_clips=1),
    simulated_ratings(n_clips=2),
    simulated_ratings(n_clips=5).assign(value="3"),
    simulated_ratings(n_clips=4).assign(
        value=lambda t: np.where(t["coder"] == "a@lab.org", "3", "4")),
    simulated_ratings(n_clips=5, coders=("a@lab.org",)),
    simulated_ratings(n_clips=3, coders=("a", "b", "c"), subsets=True),
], ids=["one clip", "two clips", "all alike", "each coder constant", "one coder", "subsets"])
def test_degenerate_data_gives_no_unexplained_nan(ratings):
    result = compute_reliability(ratings, SCHEME, bootstrap=30)
    assert list(_not_finite(result)) == []
    for entry in [*result["items"].values(), *result["composites"].values()]:
        for name in ("alpha", "icc"):
            assert entry[name]["value"] is not None or entry[name]["reason"]
        for name in ("exact_agreement", "within_one_agreement"):
            assert entry[name] is not None or entry["reasons"][name]
    for pair in result["pairs"]:
        assert pair["kappa"] is not None or pair["reasons"]["kappa"]


# ---------------------------------------------------------------- issue 11


def clip_key(n_clips=40, per_session=4):
    return pd.DataFrame({"clip_id": [f"clip{c:03d}" for c in range(n_clips)],
                         "dyad_id": [f"D{c // (2 * per_session)}" for c in range(n_clips)],
                         "timepoint": ["t1" if c % (2 * per_session) < per_session else "t2"
                                       for c in range(n_clips)]})


def test_json_contract_names():
    ratings = simulated_ratings(n_clips=40, coders=("a@lab.org", "b@lab.org", "c@lab.org"),
                                subsets=True)
    result = compute_reliability(ratings, SCHEME, bootstrap=50, clips=clip_key())
    for kind in ("items", "composites"):
        for entry in result[kind].values():
            assert set(entry["variance_components"]) >= {"clip", "coder", "residual", "method"}
            assert entry["variance_components"]["method"] == "REML"
            assert entry["icc"]["form"] == "ICC(A,1)"
            assert set(entry["icc_forms"]) == {"ICC(A,1)", "ICC(C,1)", "ICC(A,k)", "ICC(C,k)",
                                               "ICC(1)"}
            for form in entry["icc_forms"].values():
                assert set(form) >= {"value", "ci", "ci_method"} and form["ci_method"]
            assert entry["icc_forms"]["ICC(A,k)"]["k"] == 1.0  # primary policy
            assert {"band", "band_lower"} <= set(entry) and "band_lower" in entry["icc"]
    assert set(result["items"]["warmth"]["gwet_ac2"]) >= {"value", "se", "ci", "weights"}
    assert "gwet_ac2" not in result["composites"]["sensitivity"]
    study = result["d_study"]["sensitivity"]
    assert set(study) >= {"components", "design", "g", "phi", "table", "needed"}
    assert set(study["components"]) >= {"session", "clip_in_session", "coder",
                                        "session_x_coder", "residual"}
    assert set(study["table"][0]) == {"clips_per_session", "coders_per_clip", "g", "phi"}
    assert [n["coders_per_clip"] for n in study["needed"]] == [1, 2]
    pair = result["pairs"][0]
    for weights in ("linear", "quadratic"):
        assert set(pair["weighted_kappa"][weights]) == {"value", "se", "ci"}
    assert pair["kappa"] == pair["weighted_kappa"]["quadratic"]["value"]
    assert set(result["bias"]) == {"warmth", "praise", "intrusive", "sensitivity"}
    assert set(result["bias"]["warmth"][0]) == {"coder", "mean_difference", "ci", "n_clips"}
    text = result["methods_text"]
    for part in ("3 coders rated 40 clips", "REML", "ICC(A,1)", "ten Hove", "Gwet's AC2",
                 "(c:s) x r", "coding-pipeline", "NumPy"):
        assert part in text, part


def test_coder_bias_matches_a_loop_over_clips():
    ratings = simulated_ratings(n_clips=30, coders=("a@lab.org", "b@lab.org", "c@lab.org"),
                                subsets=True, seed=3)
    result = compute_reliability(ratings, SCHEME, bootstrap=0)
    rows = ratings[ratings["item"] == "warmth"]
    by_clip = {clip: dict(zip(group["coder"], group["value"].astype(float), strict=True))
               for clip, group in rows.groupby("clip_id")}
    for found in result["bias"]["warmth"]:
        differences = []
        for given in by_clip.values():
            if found["coder"] in given and len(given) > 1:
                others = [v for c, v in given.items() if c != found["coder"]]
                differences.append(given[found["coder"]] - sum(others) / len(others))
        n = len(differences)
        mean = sum(differences) / n
        sd = (sum((d - mean) ** 2 for d in differences) / (n - 1)) ** 0.5
        half = stats.t.ppf(0.975, n - 1) * sd / n**0.5
        assert found["n_clips"] == n
        assert found["mean_difference"] == pytest.approx(mean, abs=1e-6)
        assert found["ci"] == pytest.approx([mean - half, mean + half], abs=1e-6)


def test_complete_design_headline_is_shrout_fleiss_icc21_with_mcgraw_wong_interval():
    ratings = simulated_ratings(n_clips=40)
    entry = compute_reliability(ratings, SCHEME, bootstrap=0)["items"]["warmth"]
    rows = ratings[ratings["item"] == "warmth"].assign(value=lambda t: t["value"].astype(float))
    matrix = rows.pivot(index="clip_id", columns="coder", values="value").to_numpy()
    assert entry["icc"]["value"] == pytest.approx(shrout_fleiss_forms(matrix)["ICC(2,1)"],
                                                  abs=1e-4)
    assert entry["icc"]["ci"] == pytest.approx(list(icc_a1(matrix).ci), abs=1e-6)
    assert "McGraw & Wong" in entry["icc"]["ci_method"]
    assert entry["icc"]["band_lower"] == icc_band(entry["icc"]["ci"][0])


def test_mean_policy_states_its_k():
    ratings = simulated_ratings(n_clips=20)
    entry = compute_reliability(ratings, SCHEME, bootstrap=0, clip_policy="mean")["items"][
        "warmth"]
    average = entry["icc_forms"]["ICC(A,k)"]
    assert average["k"] == 2.0 and "mean policy" in average["k_basis"]
    single = entry["icc_forms"]["ICC(A,1)"]["value"]
    assert average["value"] == pytest.approx(2 * single / (1 + single), abs=1e-5)


def test_certification_per_item_follows_the_criteria():
    rows = []
    rng = np.random.default_rng(8)
    for clip in range(12):
        truth = int(rng.integers(1, 6))
        for item in ("warmth", "praise", "intrusive"):
            off = 3 if item == "praise" and clip % 2 else 0  # praise: within-one only half
            for coder, role, value in [("m@lab.org", "master", truth),
                                       ("t@lab.org", "training",
                                        int(np.clip(truth + off, 1, 5)) if off else truth)]:
                rows.append({"clip_id": f"t{clip}", "coder": coder, "item": item,
                             "value": value, "role": role})
    lenient = CertificationCriteria(item_within_one_min=0.8, items_share_min=0.6,
                                    composite_alpha_min=0.0, min_clips=5)
    strict = CertificationCriteria(item_within_one_min=0.8, items_share_min=0.9,
                                   composite_alpha_min=0.0, min_clips=5)
    for criteria, status in ((lenient, "pass"), (strict, "fail")):
        trainee = compute_reliability(pd.DataFrame(rows), SCHEME, bootstrap=0,
                                      criteria=criteria)["certification"][0]
        assert trainee["items_passing"] == 2 and trainee["status"] == status
        assert trainee["items"]["warmth"]["within_one_agreement"] == 1.0
        assert trainee["criteria"] == criteria.as_dict()
    assert "below: praise" in trainee["reasons"][0]


def test_reliability_cli_with_clips_gives_the_d_study(tmp_path):
    from click.testing import CliRunner

    from coding_pipeline.cli import cli

    study = init_study(tmp_path / "s")
    ratings = simulated_ratings(n_clips=40, coders=("a@lab.org", "b@lab.org", "c@lab.org"),
                                subsets=True)
    scheme = tmp_path / "mini.yaml"
    scheme.write_text(
        "name: mini\nversion: 1\nscale: {min: 1, max: 5}\nitems:\n"
        "  - {id: warmth, label: Warmth}\n  - {id: praise, label: Praise}\n"
        "  - {id: intrusive, label: Intrusive, reverse: true}\n"
        "composites:\n  - {id: sensitivity, label: Sensitivity, items: [warmth, praise, "
        "intrusive]}\n")
    ratings.to_csv(tmp_path / "r.csv", index=False)
    clip_key().to_csv(tmp_path / "clips.csv", index=False)
    out = tmp_path / "out.json"
    outcome = CliRunner().invoke(cli, ["reliability", "--ratings", str(tmp_path / "r.csv"),
                                       "--scheme", str(scheme), "--clips",
                                       str(tmp_path / "clips.csv"), "--json", str(out),
                                       "--bootstrap", "20"])
    assert outcome.exit_code == 0, outcome.output
    saved = json.loads(out.read_text())
    assert "g" in saved["d_study"]["sensitivity"] and "D-study sensitivity" in outcome.output
    without = CliRunner().invoke(cli, ["reliability", str(study.root), "--clips", "x.csv"])
    assert without.exit_code != 0 and "--clips goes with --ratings" in without.output


def test_compute_reliability_takes_the_software_versions_and_reads_no_metadata(monkeypatch):
    """Issue 17: the pure core is given the versions by the file-writing side."""
    import importlib.metadata

    def refuse(name):
        raise AssertionError(f"read the package metadata of {name}")

    monkeypatch.setattr(importlib.metadata, "version", refuse)
    versions = {"python": "3.x", "coding-pipeline": "9.9", "numpy": "n", "scipy": "s",
                "pandas": "p"}
    result = compute_reliability(simulated_ratings(), SCHEME, bootstrap=0, software=versions)
    assert result["software"] == versions
    assert "coding-pipeline 9.9 (Python 3.x, NumPy n, SciPy s, pandas p)" in result[
        "methods_text"]
    assert compute_reliability(simulated_ratings(), SCHEME, bootstrap=0)["software"] == {}
