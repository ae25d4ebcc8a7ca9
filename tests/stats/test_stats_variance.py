"""REML variance components and the ICC forms and G coefficients built on them, against lme4
(values stored by tests/stats/reference/lme4_reference.R), statsmodels MixedLM (an
independent fit run here) and Shrout & Fleiss's ANOVA forms on complete data."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from coding_pipeline.reliability import d_study, g_coefficients
from coding_pipeline.stats import UndefinedStatistic
from coding_pipeline.stats.icc import shrout_fleiss_forms, spearman_brown, variance_icc_forms
from coding_pipeline.stats.variance import fit_sessions, fit_two_way

REFERENCE = Path(__file__).parent / "reference"
SETS = pd.read_csv(REFERENCE / "lme4_sets.csv", keep_default_na=False)
LME4 = pd.read_csv(REFERENCE / "lme4_values.csv")


def lme4(name: str) -> dict[str, float]:
    rows = LME4[LME4["set"] == name]
    return dict(zip(rows["component"], rows["variance"].astype(float), strict=True))


def fit(name: str):
    data = SETS[SETS["set"] == name]
    values = data["value"].to_numpy(float)
    if name == "gstudy":
        return fit_sessions(values, data["session"], data["clip"], data["coder"])
    return fit_two_way(values, data["clip"], data["coder"])


@pytest.mark.parametrize("name", ["shrout_fleiss", "incomplete", "boundary", "gstudy"])
def test_components_match_lme4_reml(name):
    """lme4 1.1-31 (bobyqa, tight tolerances): every component to 1e-6 absolute (seen: about
    1e-7), the REML criterion to 1e-6."""
    ours, theirs = fit(name), lme4(name)
    for component, value in ours.components.items():
        assert value == pytest.approx(theirs[component], abs=1e-6), component
    assert ours.deviance == pytest.approx(theirs["REMLcrit"], abs=1e-6)


def test_a_component_at_its_bound_is_zero_as_in_lme4():
    assert lme4("boundary")["coder"] < 1e-20
    assert fit("boundary").components["coder"] == 0.0


@pytest.mark.parametrize("seed", [None, 3, 4, 5])
def test_icc_a1_equals_shrout_fleiss_icc21_on_complete_data(seed):
    """REML and ANOVA agree when no component is negative: ICC(A,1) = ICC(2,1) to 1e-4
    (seen: about 1e-8)."""
    if seed is None:
        matrix = SETS[SETS["set"] == "shrout_fleiss"].pivot(
            index="clip", columns="coder", values="value").to_numpy(float)
    else:
        rng = np.random.default_rng(seed)
        matrix = (rng.normal(0, 1, (40, 1)) + rng.normal(0, 0.7, (40, 4))
                  + rng.normal(0, 0.4, (1, 4)))
    rows, columns = np.indices(matrix.shape)
    found = fit_two_way(matrix.ravel(), rows.ravel(), columns.ravel())
    forms = variance_icc_forms(found.components, matrix.shape[1])
    anova = shrout_fleiss_forms(matrix)
    assert forms["ICC(A,1)"] == pytest.approx(anova["ICC(2,1)"], abs=1e-4)
    assert forms["ICC(C,1)"] == pytest.approx(anova["ICC(3,1)"], abs=1e-4)
    assert forms["ICC(A,k)"] == pytest.approx(anova["ICC(2,k)"], abs=1e-4)
    assert forms["ICC(C,k)"] == pytest.approx(anova["ICC(3,k)"], abs=1e-4)


def test_components_match_statsmodels_mixedlm():
    """An independent REML implementation (statsmodels MixedLM, crossed variance
    components), on the incomplete set: to 1e-4 (its optimiser's tolerance)."""
    import statsmodels.formula.api as smf

    data = SETS[SETS["set"] == "incomplete"].assign(group=1)
    model = smf.mixedlm("value ~ 1", data, groups="group",
                        vc_formula={"clip": "0 + C(clip)", "coder": "0 + C(coder)"})
    fitted = model.fit(reml=True)
    theirs = dict(zip(model.exog_vc.names, fitted.vcomp, strict=True))
    ours = fit("incomplete").components
    assert ours["clip"] == pytest.approx(theirs["clip"], abs=1e-4)
    assert ours["coder"] == pytest.approx(theirs["coder"], abs=1e-4)
    assert ours["residual"] == pytest.approx(fitted.scale, abs=1e-4)


def test_icc_forms_and_spearman_brown_by_hand():
    forms = variance_icc_forms({"clip": 2.0, "coder": 0.5, "residual": 1.5}, 2)
    assert forms["ICC(A,1)"] == pytest.approx(2 / 4)
    assert forms["ICC(C,1)"] == pytest.approx(2 / 3.5)
    assert forms["ICC(A,k)"] == pytest.approx(2 / (2 + 1.0))
    assert forms["ICC(C,k)"] == pytest.approx(2 / (2 + 0.75))
    assert spearman_brown(0.5, 2) == pytest.approx(forms["ICC(A,k)"])


def test_monte_carlo_draws_are_seeded_and_centred():
    found = fit("incomplete")
    first = found.draws(5000, np.random.default_rng(1))
    again = found.draws(5000, np.random.default_rng(1))
    assert np.array_equal(first["clip"], again["clip"])
    assert np.median(first["clip"]) == pytest.approx(found.components["clip"], rel=0.05)


def test_g_and_phi_by_hand_and_the_d_study_table():
    components = {"session": 0.6, "clip_in_session": 0.8, "coder": 0.1,
                  "session_x_coder": 0.05, "residual": 0.4}
    g, phi = g_coefficients(components, 4, 1)
    assert g == pytest.approx(0.6 / (0.6 + 0.8 / 4 + 0.05 + 0.4 / 4))
    assert phi == pytest.approx(0.6 / (0.6 + 0.8 / 4 + 0.1 + 0.05 + 0.4 / 4))
    data = SETS[SETS["set"] == "gstudy"]
    rows = data.rename(columns={"clip": "clip_id"})[["clip_id", "coder", "value"]]
    sessions = data.drop_duplicates("clip").set_index("clip")["session"]
    found = d_study(rows.astype({"value": float}), sessions, k=1.0, g_min=0.8)
    reference = lme4("gstudy")
    for name, value in found["components"].items():
        if name != "method":
            assert value == pytest.approx(reference[name], abs=1e-5), name
    assert found["design"]["clips_per_session"] == 5 and found["design"]["n_sessions"] == 40
    expected_g, expected_phi = g_coefficients(reference, 5, 1)
    assert found["g"] == pytest.approx(expected_g, abs=1e-5)
    assert found["phi"] == pytest.approx(expected_phi, abs=1e-5)
    assert len(found["table"]) == 36
    assert {r["coders_per_clip"] for r in found["table"]} == {1, 2, 3}
    assert {r["clips_per_session"] for r in found["table"]} == set(range(1, 13))
    for need in found["needed"]:
        n, k = need["clips_per_session"], need["coders_per_clip"]
        assert g_coefficients(reference, n, k)[0] >= 0.8 > g_coefficients(reference, n - 1, k)[0]


def test_undefined_without_two_coders_or_variation():
    with pytest.raises(UndefinedStatistic, match="two coders"):
        fit_two_way(np.array([1.0, 2.0, 3.0]), np.array([0, 1, 2]), np.array([0, 0, 0]))
    with pytest.raises(UndefinedStatistic, match="same value"):
        fit_two_way(np.ones(6), np.repeat([0, 1, 2], 2), np.tile([0, 1], 3))


@pytest.mark.parametrize("seed", [0, 1, 3])
def test_monte_carlo_intervals_agree_with_the_exact_f_intervals_on_complete_data(seed):
    """The Monte Carlo interval (used for incomplete designs) against McGraw & Wong's F
    intervals, exact under normality on complete data: ICC(C,1) to 0.01 (seen: 0.004);
    ICC(A,1), whose coder variance rests on 3 coders, to 0.06 (seen: 0.05 at the lower end)."""
    from coding_pipeline.stats.icc import icc_a1, icc_c1_interval

    rng = np.random.default_rng(seed)
    matrix = (rng.normal(0, 1, (80, 1)) + rng.normal(0, 0.7, (80, 3))
              + rng.normal(0, 0.4, (1, 3)))
    rows, columns = np.indices(matrix.shape)
    found = fit_two_way(matrix.ravel(), rows.ravel(), columns.ravel())
    drawn = variance_icc_forms(found.draws(10_000, np.random.default_rng(0)), 1)
    consistency = np.percentile(drawn["ICC(C,1)"], [2.5, 97.5])
    assert consistency == pytest.approx(icc_c1_interval(matrix), abs=0.01)
    agreement = np.percentile(drawn["ICC(A,1)"], [2.5, 97.5])
    assert agreement == pytest.approx(icc_a1(matrix).ci, abs=0.06)
