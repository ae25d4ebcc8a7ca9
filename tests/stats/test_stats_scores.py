"""Per-dyad scores: composites with reverse keying and minimum share, clip policies, duration
weighting, covariates, and the CSV / Parquet / SPSS files."""

import numpy as np
import pandas as pd
import pyreadstat
import pytest

from coding_pipeline.errors import PipelineError
from coding_pipeline.scheme import parse_scheme
from coding_pipeline.scores import (
    check_ratings,
    clean_ratings,
    clip_scores,
    coder_composites,
    dyad_scores,
    dyad_wide_scores,
    score_study,
    wide_scores,
)
from coding_pipeline.study import init_study, load_study

SCHEME = parse_scheme({
    "name": "mini", "version": 1, "scale": {"min": 1, "max": 5},
    "items": [
        {"id": "warmth", "label": "Warmth"},
        {"id": "praise", "label": "Praise"},
        {"id": "attune", "label": "Attunement"},
        {"id": "intrusive", "label": "Intrusive", "reverse": True},
        {"id": "engaged", "label": "Engaged"},
    ],
    "composites": [
        {"id": "sensitivity", "label": "Maternal sensitivity",
         "items": ["warmth", "praise", "attune", "intrusive"]},
        {"id": "involvement", "label": "Child involvement", "items": ["engaged"]},
    ],
})


def rating(clip, coder, item, value, role="primary", created="2026-01-01T10:00:00Z"):
    return {"clip_id": clip, "coder": coder, "item": item, "value": str(value), "role": role,
            "status": "rated", "created_at": created, "updated_at": created}


def composites_of(rows, share=0.75):
    return coder_composites(clean_ratings(pd.DataFrame(rows), SCHEME), SCHEME, share)


def test_composite_is_mean_after_reverse_keying():
    rows = [rating("c1", "a", "warmth", 4), rating("c1", "a", "praise", 5),
            rating("c1", "a", "attune", 3), rating("c1", "a", "intrusive", 2)]
    table = composites_of(rows)
    sensitivity = table[table["composite"] == "sensitivity"].iloc[0]
    assert sensitivity["value"] == pytest.approx((4 + 5 + 3 + (6 - 2)) / 4)
    assert sensitivity["n_items"] == 4


def test_composite_needs_the_minimum_share_of_items():
    rows = [rating("c1", "a", "warmth", 4), rating("c1", "a", "praise", 5),
            rating("c1", "a", "attune", 3),   # 3 of 4 = 75%: enough
            rating("c2", "a", "warmth", 4), rating("c2", "a", "praise", 2)]  # 2 of 4: not
    table = composites_of(rows).set_index(["clip_id", "composite"])
    assert table.loc[("c1", "sensitivity"), "value"] == pytest.approx(4.0)
    assert np.isnan(table.loc[("c2", "sensitivity"), "value"])
    assert "2 of 4 items rated" in table.loc[("c2", "sensitivity"), "reason"]


def test_last_updated_rating_wins_when_a_coder_rated_twice():
    rows = [rating("c1", "a", "engaged", 2, created="2026-01-01T10:00:00Z"),
            rating("c1", "a", "engaged", 5, created="2026-01-02T10:00:00Z")]
    clean = clean_ratings(pd.DataFrame(rows[::-1]), SCHEME)
    assert clean["value"].tolist() == [5.0]


def policy_rows():
    return [
        rating("c1", "p@lab.org", "engaged", 2, "primary", "2026-01-02T10:00:00Z"),
        rating("c1", "r@lab.org", "engaged", 4, "reliability", "2026-01-01T10:00:00Z"),
        rating("c1", "m@lab.org", "engaged", 5, "consensus"),
        rating("c2", "p@lab.org", "engaged", 1, "primary"),
        rating("c2", "r@lab.org", "engaged", 2, "reliability"),
        rating("c3", "t@lab.org", "engaged", 5, "training"),
    ]


@pytest.mark.parametrize(("policy", "c1", "c2"), [
    ("primary", 2.0, 1.0), ("mean", 3.0, 1.5), ("consensus", 5.0, 1.5),
])
def test_clip_policies(policy, c1, c2):
    scores = clip_scores(composites_of(policy_rows()), policy)
    involvement = scores[scores["composite"] == "involvement"].set_index("clip_id")["value"]
    assert involvement.to_dict() == {"c1": c1, "c2": c2}  # training clip c3 is not scored


def test_primary_without_roles_is_the_coder_who_rated_first():
    rows = [{**r, "role": ""} for r in policy_rows()[:2]]
    scores = clip_scores(composites_of(rows), "primary")
    assert scores["value"].tolist() == [4.0]  # r@lab.org rated c1 first


def clips_table():
    return pd.DataFrame({
        "clip_id": ["c1", "c2", "c3", "c4"], "dyad_id": ["D1", "D1", "D1", "D2"],
        "timepoint": ["T1", "T1", "T1", "T1"], "arm": ["A", "A", "A", "B"],
        "start_s": ["0", "60", "120", "0"], "end_s": ["60", "120", "150", "60"],
    })


def test_dyad_score_is_duration_weighted_with_counts_and_covariates():
    scores = pd.DataFrame({
        "clip_id": ["c1", "c2", "c3"], "composite": "involvement",
        "value": [2.0, 4.0, 5.0], "n_coders": 1, "source": "mean", "reason": "",
    })
    covariates = pd.DataFrame({"dyad_id": ["D1", "D2", "D3"], "timepoint": ["T1", "T1", "T1"],
                               "arm": ["A", "B", "B"], "child_age": ["30", "28", "31"]})
    long = dyad_scores(scores, clips_table(), SCHEME, covariates)
    d1 = long[(long["dyad_id"] == "D1") & (long["composite"] == "involvement")].iloc[0]
    assert d1["score"] == pytest.approx((2 * 60 + 4 * 60 + 5 * 30) / 150)
    assert (d1["n_clips"], d1["n_clips_session"], d1["share_clips_rated"]) == (3, 3, 1.0)
    assert d1["child_age"] == "30" and d1["arm"] == "A"
    d2 = long[(long["dyad_id"] == "D2") & (long["composite"] == "involvement")].iloc[0]
    assert np.isnan(d2["score"]) and "no clip of this session" in d2["reason"]
    d3 = long[long["dyad_id"] == "D3"].iloc[0]
    assert d3["n_clips_session"] == 0 and "no clips" in d3["reason"]
    assert len(long) == 3 * 2  # every session x every composite
    wide = wide_scores(long)
    assert list(wide["dyad_id"]) == ["D1", "D2", "D3"]
    assert wide.loc[0, "involvement"] == pytest.approx(d1["score"])
    assert {"involvement_n_clips", "sensitivity_share_rated", "child_age"} <= set(wide.columns)


def test_ratings_for_clips_missing_from_the_clip_key_are_an_error():
    scores = pd.DataFrame({"clip_id": ["zz"], "composite": "involvement", "value": [2.0],
                           "n_coders": 1, "source": "mean", "reason": ""})
    with pytest.raises(PipelineError, match="not in clips.csv"):
        dyad_scores(scores, clips_table(), SCHEME)


def make_study(tmp_path, policy="mean"):
    study = init_study(tmp_path / "study")
    scheme_path = study.scheme_path
    from coding_pipeline.scheme import load_scheme

    scheme = load_scheme(scheme_path)
    study.sessions_csv.write_text(
        "dyad_id,timepoint,arm,video,start,end,child age (months),site\n"
        "D1,baseline,A,a.mp4,,,30,north\nD1,post,A,b.mp4,,,36,north\n"
        "D2,baseline,B,c.mp4,,,28.5,south\n"
    )
    clips, rows = [], []
    rng = np.random.default_rng(1)
    for number, (dyad, timepoint, arm) in enumerate(
            [("D1", "baseline", "A"), ("D1", "post", "A"), ("D2", "baseline", "B")] * 2):
        clip_id = f"k{number:02d}"
        clips.append({"clip_id": clip_id, "dyad_id": dyad, "timepoint": timepoint, "arm": arm,
                      "source": "x.mp4", "start_s": 0, "end_s": 60, "file": f"clips/{clip_id}.mp4",
                      "fps": 25, "frames": 1500, "qc": "ok"})
        for coder, role in (("a@lab.org", "primary"), ("b@lab.org", "reliability")):
            rows += [rating(clip_id, coder, item.id, int(rng.integers(1, 6)), role)
                     for item in scheme.items]
    pd.DataFrame(clips).to_csv(study.clips_csv, index=False)
    pd.DataFrame(rows).to_csv(study.ratings_csv, index=False)
    text = study.toml_path.read_text()
    text = text.replace('clip_policy = "primary"', f'clip_policy = "{policy}"')
    study.toml_path.write_text(text)
    return load_study(study.root), scheme


def test_score_study_writes_csv_parquet_and_labelled_spss(tmp_path):
    study, scheme = make_study(tmp_path)
    written = score_study(study)
    assert all(path.is_file() for path in written.values())
    long = pd.read_csv(written["long CSV"])
    assert len(long) == 3 * len(scheme.composites)
    assert list(long.columns[:5]) == ["dyad_id", "timepoint", "arm", "child age (months)", "site"]
    parquet = pd.read_parquet(written["wide Parquet"])
    assert parquet["child age (months)"].dtype.kind == "f"  # numbers stay numbers
    data, meta = pyreadstat.read_sav(str(written["wide SPSS"]))
    assert len(data) == 3
    labels = meta.column_names_to_labels
    assert labels["sensitivity"] == "Maternal sensitivity"
    assert labels["child_age__months_"] == "child age (months)"
    assert meta.variable_value_labels["arm_code"] == {1.0: "A", 2.0: "B"}
    assert data["sensitivity"].to_numpy() == pytest.approx(
        pd.read_csv(written["wide CSV"])["sensitivity"].to_numpy())
    again = score_study(study)  # rerunning replaces the files, no duplicates
    assert len(pd.read_csv(again["long CSV"])) == len(long)


def test_score_study_mean_policy_matches_hand_computation(tmp_path):
    study, scheme = make_study(tmp_path, policy="mean")
    written = score_study(study)
    ratings = pd.read_csv(study.ratings_csv)
    clips = pd.read_csv(study.clips_csv)
    composite = scheme.composites[0]
    keyed = ratings[ratings["item"].isin(composite.items)].copy()
    for item in scheme.items:
        if item.reverse:
            keyed.loc[keyed["item"] == item.id, "value"] = 6 - keyed["value"]
    per_coder = keyed.groupby(["clip_id", "coder"])["value"].mean()
    per_clip = per_coder.groupby("clip_id").mean().rename("clip").reset_index()
    expected = per_clip.merge(clips, on="clip_id").groupby(["dyad_id", "timepoint"])["clip"].mean()
    long = pd.read_csv(written["long CSV"])
    got = long[long["composite"] == composite.id].set_index(["dyad_id", "timepoint"])["score"]
    assert got.sort_index().to_numpy() == pytest.approx(expected.sort_index().to_numpy())


def test_equal_weights_when_durations_are_unknown():
    scores = pd.DataFrame({"clip_id": ["c1", "c2", "c3"], "composite": "involvement",
                           "value": [2.0, 4.0, 5.0], "n_coders": 1, "source": "mean",
                           "reason": ""})
    clips = clips_table().drop(columns=["start_s", "end_s"])
    long = dyad_scores(scores, clips, SCHEME)
    d1 = long[(long["dyad_id"] == "D1") & (long["composite"] == "involvement")].iloc[0]
    assert d1["score"] == pytest.approx(11 / 3)
    assert d1["weighting"] == "equal"


def test_a_later_training_rating_of_a_clip_leaves_the_primary_rating_alone(tmp_path):
    study, scheme = make_study(tmp_path, policy="primary")
    ratings = pd.read_csv(study.ratings_csv).assign(batch="batch-01")
    training = [rating("k00", coder, item.id, 1 if coder == "a@lab.org" else 5, role,
                       created="2026-02-01T10:00:00Z") | {"batch": "training-01"}
                for coder, role in (("a@lab.org", "training"), ("m@lab.org", "master"))
                for item in scheme.items]
    pd.concat([ratings, pd.DataFrame(training)]).to_csv(study.ratings_csv, index=False)
    written = score_study(study)
    per_clip = pd.read_csv(written["per clip CSV"]).set_index(["clip_id", "composite"])
    composite = scheme.composites[0]
    own = ratings[(ratings["clip_id"] == "k00") & (ratings["coder"] == "a@lab.org")]
    primary = coder_composites(clean_ratings(own, scheme), scheme, 0)
    expected = primary.set_index("composite").loc[composite.id, "value"]
    assert per_clip.loc[("k00", composite.id), "value"] == pytest.approx(expected)
    assert per_clip.loc[("k00", composite.id), "n_coders"] == 2


def test_primary_policy_says_truthfully_whose_rating_scored_the_clip():
    rows = [*policy_rows(), rating("c4", "r@lab.org", "engaged", 3, "reliability")]
    scores = clip_scores(composites_of(rows), "primary")
    source = scores[scores["composite"] == "involvement"].set_index("clip_id")["source"]
    assert source["c1"] == "primary (p@lab.org)"
    assert source["c4"] == "reliability coder (primary not rated) (r@lab.org)"
    unassigned = clip_scores(composites_of([{**r, "role": ""} for r in policy_rows()[:2]]),
                             "primary")
    assert unassigned["source"].tolist() == ["first coder to rate, no roles (r@lab.org)"]


def test_one_row_per_dyad_for_repeated_measures(tmp_path):
    study, scheme = make_study(tmp_path)
    written = score_study(study)
    long = pd.read_csv(written["long CSV"])
    by_dyad = pd.read_csv(written["by dyad CSV"])
    assert by_dyad["dyad_id"].tolist() == ["D1", "D2"]
    columns = list(by_dyad.columns)
    assert columns[:3] == ["dyad_id", "arm", "site"]  # the same at every timepoint: once
    for name in ("child age (months)_baseline", "child age (months)_post",
                 "sensitivity_baseline", "sensitivity_post", "sensitivity_post_n_clips",
                 "n_clips_session_baseline"):
        assert name in columns
    assert "child age (months)" not in columns and "timepoint" not in columns
    assert columns.index("sensitivity_baseline") < columns.index("sensitivity_post")
    d1 = by_dyad.set_index("dyad_id").loc["D1"]
    assert d1["child age (months)_post"] == 36
    for row in long.itertuples():
        got = by_dyad.set_index("dyad_id").loc[row.dyad_id, f"{row.composite}_{row.timepoint}"]
        assert got == pytest.approx(row.score)
    assert np.isnan(by_dyad.set_index("dyad_id").loc["D2", "sensitivity_post"])
    parquet = pd.read_parquet(written["by dyad Parquet"])
    assert parquet["sensitivity_baseline"].to_numpy() == pytest.approx(
        by_dyad["sensitivity_baseline"].to_numpy(), nan_ok=True)
    data, meta = pyreadstat.read_sav(str(written["by dyad SPSS"]))
    assert len(data) == 2
    labels = meta.column_names_to_labels
    assert labels["sensitivity_baseline"] == "Maternal sensitivity at baseline"
    assert labels["sensitivity_post_n_clips"] == "Maternal sensitivity at post: clips scored"
    assert labels["child_age__months__post"] == "child age (months) at post"
    assert meta.variable_value_labels["arm_code"] == {1.0: "A", 2.0: "B"}


def test_timepoints_of_the_by_dyad_table_follow_the_given_order():
    scores = pd.DataFrame({"clip_id": ["c1", "c2", "c3"], "composite": "involvement",
                           "value": [2.0, 4.0, 5.0], "n_coders": 1, "source": "mean",
                           "reason": ""})
    clips = clips_table().assign(timepoint=["pre", "post", "pre", "pre"], dyad_id="D1")
    wide = dyad_wide_scores(dyad_scores(scores, clips, SCHEME), ["pre", "post"])
    columns = list(wide.columns)
    assert columns.index("involvement_pre") < columns.index("involvement_post")
    assert wide.loc[0, "involvement_post"] == 4.0


# ---------------------------------------------------------------- issue 11 fixes


def test_primary_falls_back_to_the_second_coders_composite_and_says_so():
    rows = [rating("c1", "p@lab.org", "warmth", 4, "primary"),  # 1 of 4 items: no composite
            *[rating("c1", "r@lab.org", item, 3, "reliability")
              for item in ("warmth", "praise", "attune", "intrusive")],
            rating("c1", "p@lab.org", "engaged", 2, "primary"),
            rating("c1", "r@lab.org", "engaged", 4, "reliability")]
    scores = clip_scores(composites_of(rows), "primary").set_index("composite")
    assert scores.loc["sensitivity", "value"] == pytest.approx((3 + 3 + 3 + 3) / 4)
    assert scores.loc["sensitivity", "source"] == (
        "second coder (primary's composite missing) (r@lab.org)")
    assert scores.loc["involvement", "source"] == "primary (p@lab.org)"  # complete: primary's
    assert scores.loc["involvement", "value"] == 2.0


def test_equal_weights_only_in_the_session_with_an_unknown_duration():
    scores = pd.DataFrame({"clip_id": ["c1", "c2", "c3", "c4"], "composite": "involvement",
                           "value": [2.0, 4.0, 5.0, 3.0], "n_coders": 1, "source": "mean",
                           "reason": ""})
    clips = clips_table().assign(dyad_id=["D1", "D1", "D2", "D2"])
    clips.loc[2, "end_s"] = ""  # c3 of D2 has no duration
    long = dyad_scores(scores, clips, SCHEME).set_index(["dyad_id", "composite"])
    assert long.loc[("D1", "involvement"), "weighting"] == "duration"
    assert long.loc[("D1", "involvement"), "score"] == pytest.approx((2 * 60 + 4 * 60) / 120)
    assert long.loc[("D2", "involvement"), "weighting"] == "equal"
    assert long.loc[("D2", "involvement"), "score"] == pytest.approx(4.0)


def test_coder_emails_compare_case_insensitively_with_a_warning():
    rows = [rating("c1", "Ben@Lab.org", "engaged", 2), rating("c2", "ben@lab.org", "engaged", 3),
            rating("c1", "ana@lab.org", "engaged", 2, "reliability")]
    clean, warnings = check_ratings(pd.DataFrame(rows), SCHEME, source="r.csv")
    assert sorted(clean["coder"].unique()) == ["Ben@Lab.org", "ana@lab.org"]
    assert len(warnings) == 1
    assert "'Ben@Lab.org' and 'ben@lab.org'" in warnings[0] and "r.csv" in warnings[0]


@pytest.mark.parametrize("spelling", ["", "nan", "NaN", "NA", "N/A", "null", "None", "<NA>"])
def test_every_missing_value_spelling_is_treated_alike(spelling):
    rows = [rating("c1", "a", "engaged", 3), rating("c2", "a", "engaged", 4)]
    rows[1]["value"] = spelling
    clean = clean_ratings(pd.DataFrame(rows), SCHEME)
    assert clean["value"].tolist() == [3.0]


def test_spss_measure_levels_and_value_labels(tmp_path):
    study, scheme = make_study(tmp_path)
    written = score_study(study)
    _, meta = pyreadstat.read_sav(str(written["long SPSS"]))
    measure = meta.variable_measure
    assert measure["dyad_id"] == "nominal" and measure["composite"] == "nominal"
    assert measure["score"] == "scale" and measure["n_clips"] == "scale"
    assert measure["timepoint_code"] == "ordinal" and measure["arm_code"] == "nominal"
    labels = meta.variable_value_labels
    assert set(labels["composite_code"].values()) == {c.label for c in scheme.composites}
    assert labels["score"] == {1.0: "1: lowest scale point", 5.0: "5: highest scale point"}
    _, wide = pyreadstat.read_sav(str(written["wide SPSS"]))
    assert wide.variable_measure["sensitivity"] == "scale"
    assert "sensitivity" in wide.variable_value_labels
    assert "sensitivity_n_clips" not in wide.variable_value_labels
    assert "unknown" not in set(wide.variable_measure.values())
