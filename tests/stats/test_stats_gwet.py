"""Gwet's AC2 and weighted kappa against irrCAC 0.4.4 (values stored by
tests/stats/reference/irrcac_reference.py, run in its own environment), to its printed 5
decimals."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from coding_pipeline.reliability import compute_reliability
from coding_pipeline.scheme import parse_scheme
from coding_pipeline.stats import UndefinedStatistic
from coding_pipeline.stats.gwet import agreement_weights, gwet_ac2, weighted_kappa

REFERENCE = Path(__file__).parent / "reference"
IRRCAC = json.loads((REFERENCE / "irrcac_values.json").read_text())
SETS = pd.read_csv(REFERENCE / "gwet_sets.csv")
CATEGORIES = [1, 2, 3, 4, 5]


def matrix(name: str) -> np.ndarray:
    rows = SETS[SETS["set"] == name]
    return rows.pivot(index="unit", columns="coder", values="value").to_numpy(float)


def same_to_five_decimals(found, expected) -> None:
    assert round(found.value, 5) == pytest.approx(expected["value"], abs=1e-12)
    assert round(found.se, 5) == pytest.approx(expected["se"], abs=1e-12)
    assert [round(b, 5) for b in found.ci] == pytest.approx(expected["ci"], abs=1e-12)


@pytest.mark.parametrize("name", ["skewed", "spread", "pair"])
@pytest.mark.parametrize("weights", ["quadratic", "linear", "ordinal"])
def test_ac2_matches_irrcac(name, weights):
    same_to_five_decimals(gwet_ac2(matrix(name), CATEGORIES, weights),
                          IRRCAC[f"gwet/{name}/{weights}"])


@pytest.mark.parametrize("weights", ["quadratic", "linear"])
def test_weighted_kappa_matches_irrcac_conger_for_two_coders(weights):
    data = matrix("pair")
    same_to_five_decimals(weighted_kappa(data[:, 0], data[:, 1], CATEGORIES, weights),
                          IRRCAC[f"kappa/pair/{weights}"])


def test_the_kappa_paradox_set_keeps_ac2_high():
    """Skewed ratings (most 4-5): AC2 stays high where the unweighted form (AC1) and alpha
    fall; units rated once count in AC2's category proportions."""
    data = matrix("skewed")
    assert (~np.isnan(data)).sum(axis=1).min() == 1  # units rated once are in the set
    assert gwet_ac2(data, CATEGORIES).value > 0.9


def test_weights():
    quadratic = agreement_weights(np.array(CATEGORIES, float), "quadratic")
    assert quadratic[0, 4] == 0 and quadratic[1, 2] == pytest.approx(1 - 1 / 16)
    ordinal = agreement_weights(np.array(CATEGORIES, float), "ordinal")
    assert ordinal[0, 1] == pytest.approx(1 - 1 / 10)
    with pytest.raises(ValueError, match="weights must be"):
        agreement_weights(np.array(CATEGORIES, float), "cubic")
    with pytest.raises(UndefinedStatistic):
        gwet_ac2(np.array([[1.0, np.nan], [2.0, np.nan]]), CATEGORIES)


def test_reliability_json_gives_ac2_per_item_with_the_configured_weights():
    scheme = parse_scheme({"name": "one", "version": 1, "scale": {"min": 1, "max": 5},
                           "items": [{"id": "warmth", "label": "Warmth"}]})
    data = matrix("spread")
    rows = [{"clip_id": f"u{u}", "coder": f"c{c}@lab.org", "item": "warmth",
             "value": str(int(data[u, c]))}
            for u in range(data.shape[0]) for c in range(data.shape[1])
            if not np.isnan(data[u, c])]
    result = compute_reliability(pd.DataFrame(rows), scheme, bootstrap=0,
                                 ac2_weights="linear")
    ac2 = result["items"]["warmth"]["gwet_ac2"]
    assert set(ac2) >= {"value", "se", "ci", "weights"} and ac2["weights"] == "linear"
    expected = IRRCAC["gwet/spread/linear"]
    assert round(ac2["value"], 5) == expected["value"] and round(ac2["se"], 5) == expected["se"]
    assert [round(b, 5) for b in ac2["ci"]] == expected["ci"]
