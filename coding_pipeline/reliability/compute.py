"""The whole reliability result of a ratings table: every item's and composite's entry, coder
pairs, bias, the D-study, certification, recalibration flags, drift and the methods text.
Pure: tables in, one JSON-ready dict out (`files.reliability_study` reads and writes the
study folder, and passes in the software versions).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from coding_pipeline.rating_checks import RELIABILITY_ROLES, check_ratings
from coding_pipeline.reliability.certification import (
    CertificationCriteria,
    certification,
    drift,
    recalibration_flags,
    recertification,
)
from coding_pipeline.reliability.d_study import d_study, sessions_of
from coding_pipeline.reliability.entries import (
    DEFAULT_SEED,
    averaged_coders,
    bias_rows,
    clip_matrix,
    pair_entries,
    reliability_entry,
)
from coding_pipeline.reliability.methods import methods_text
from coding_pipeline.scheme import Scheme
from coding_pipeline.scores.core import coder_composites
from coding_pipeline.stats import UndefinedStatistic
from coding_pipeline.stats.alpha import ClipResampler

INTERVIEW_D_STUDY_REASON = (
    "one interview per dyad and timepoint: the interview score is the session score, and "
    "its reliability is the ICC(A,k) of its entry")


@dataclass(frozen=True)
class ReliabilitySettings:
    """How reliability is computed (study.toml [reliability], [scores], [certification])."""

    bootstrap: int = 1000
    seed: int = DEFAULT_SEED
    min_item_share: float = 0.75
    alpha_min: float = 0.80
    within_one_min: float = 0.85
    clip_policy: str = "primary"
    ac2_weights: str = "quadratic"
    criteria: CertificationCriteria | None = None
    last_clips: int = 10

    @classmethod
    def from_config(cls, config) -> ReliabilitySettings:
        """The settings of a StudyConfig."""
        return cls(config.bootstrap, config.seed, config.min_item_share, config.alpha_min,
                   config.within_one_min, config.clip_policy, config.ac2_weights,
                   CertificationCriteria.from_config(config), config.recalibration_clips)

    def as_dict(self) -> dict:
        """The settings block of a result."""
        return {"bootstrap": self.bootstrap, "seed": self.seed,
                "min_item_share": self.min_item_share, "alpha_min": self.alpha_min,
                "within_one_min": self.within_one_min, "confidence": 0.95,
                "clip_policy": self.clip_policy, "ac2_weights": self.ac2_weights,
                "resampling": "clips with replacement, the same draws for every variable "
                              "rated on the same clips"}


def compute_reliability(
    ratings: pd.DataFrame, scheme: Scheme, bootstrap: int = 1000, seed: int = DEFAULT_SEED,
    min_item_share: float = 0.75, alpha_min: float = 0.80, within_one_min: float = 0.85,
    source: str = "ratings", clip_policy: str = "primary", ac2_weights: str = "quadratic",
    criteria: CertificationCriteria | None = None, clips: pd.DataFrame | None = None,
    last_clips: int = 10, recalibration_masters: dict[str, str] | None = None,
    software: dict[str, str] | None = None,
) -> dict:
    """Reliability of a ratings table (clip_id, coder, item, value [, role, batch, status,
    created_at, updated_at]) under a scheme:

        {"items": {id: ENTRY}, "composites": {id: ENTRY}, "pairs": [...], "bias": {...},
         "d_study": {composite: ...}, "certification": [...], "recalibration": [...],
         "drift": {"by_batch": [...], "by_month": [...]}, "methods_text": "...",
         "warnings": [...], ...}

    Items: ordinal alpha over the scale points and Gwet's AC2 (`ac2_weights`); composites (a
    coder's mean of reverse-keyed items, see scores.coder_composites): interval alpha. Every
    entry has REML variance components and the ICC forms (ICC(A,k) and ICC(C,k) with the k
    `clip_policy` averages). With a clip key `clips` (clip_id, dyad_id, timepoint), the
    D-study of each composite's session score. Bootstrap resamples clips, seeded.
    `software`: the versions that compute it (`files.software_versions()`), for the record.
    """
    clean, warnings = check_ratings(ratings, scheme, source=source)
    settings = ReliabilitySettings(bootstrap, seed, min_item_share, alpha_min, within_one_min,
                                   clip_policy, ac2_weights, criteria, last_clips)
    return reliability_of_checked(clean, warnings, scheme, settings, clips,
                                  recalibration_masters, software)


def reliability_of_checked(
    clean: pd.DataFrame, warnings: list[str], scheme: Scheme, settings: ReliabilitySettings,
    clips: pd.DataFrame | None = None, recalibration_masters: dict[str, str] | None = None,
    software: dict[str, str] | None = None, unit: str = "clip",
) -> dict:
    """`compute_reliability` of ratings already checked (`check_ratings` output and its
    warnings). `unit` "interview": the units are interviews (transcript ids), one per dyad
    and timepoint, so there is no D-study; the result says `"unit": "interview"`."""
    independent = clean[clean["role"].isin(RELIABILITY_ROLES)]
    resampler = ClipResampler(settings.bootstrap, settings.seed)
    starts: dict = {}  # each REML fit starts from the previous variable's estimates
    items, bias = _item_entries(independent, scheme, settings, resampler, starts)
    composite_table = coder_composites(independent, scheme, settings.min_item_share).dropna(
        subset=["value"])
    sessions = sessions_of(clips)
    composites, composite_bias, studies = _composite_entries(
        composite_table, scheme, settings, resampler, starts, sessions)
    clips_rated = independent.groupby("clip_id")["coder"].nunique()
    criteria, share = settings.criteria, settings.min_item_share
    result = {
        "scheme": {"name": scheme.name, "version": scheme.version},
        "settings": settings.as_dict(),
        "n_ratings": int(len(independent)),
        "n_clips": int(clips_rated.size),
        "n_clips_double_coded": int((clips_rated >= 2).sum()),
        "n_coders": int(independent["coder"].nunique()),
        "items": items,
        "composites": composites,
        "pairs": pair_entries(independent, scheme),
        "bias": bias | composite_bias,
        "d_study": studies,
        "certification": certification(clean, scheme, criteria, share) + recertification(
            clean, scheme, recalibration_masters or {}, criteria, share),
        "recalibration": recalibration_flags(clean, scheme, settings.last_clips, criteria,
                                             share),
        "drift": drift(clean, scheme, share, composite_table),
        "software": dict(software or {}),
        "warnings": warnings,
    }
    if unit == "interview":
        result["unit"] = unit
        result["d_study_reason"] = INTERVIEW_D_STUDY_REASON
    elif sessions is None:
        result["d_study_reason"] = ("clip-to-session membership unknown: run in a study folder "
                                    "or give --clips CLIPS.csv (clip_id, dyad_id, timepoint)")
    result["methods_text"] = methods_text(result, scheme)
    return result


def _item_entries(independent: pd.DataFrame, scheme: Scheme, settings: ReliabilitySettings,
                  resampler: ClipResampler, starts: dict) -> tuple[dict, dict]:
    """Each item's entry (ordinal alpha, AC2) and coder bias."""
    by_item = {item_id: rows for item_id, rows in independent.groupby("item")}
    items, bias = {}, {}
    for item in scheme.items:
        matrix, coders = clip_matrix(by_item.get(item.id, independent.iloc[0:0]))
        k, basis = averaged_coders(matrix, settings.clip_policy)
        items[item.id] = reliability_entry(
            matrix, "ordinal", np.array(item.scale.points, dtype=float), settings.bootstrap,
            settings.seed, settings.alpha_min, resampler, k, basis, settings.ac2_weights,
            starts,
        )
        bias[item.id] = bias_rows(matrix, coders)
    return items, bias


def _composite_entries(
    composite_table: pd.DataFrame, scheme: Scheme, settings: ReliabilitySettings,
    resampler: ClipResampler, starts: dict, sessions: pd.Series | None,
) -> tuple[dict, dict, dict]:
    """Each composite's entry (interval alpha), coder bias and, with sessions, D-study."""
    composites, bias, studies = {}, {}, {}
    for composite in scheme.composites:
        rows = composite_table[composite_table["composite"] == composite.id]
        matrix, coders = clip_matrix(rows)
        k, basis = averaged_coders(matrix, settings.clip_policy)
        composites[composite.id] = reliability_entry(
            matrix, "interval", None, settings.bootstrap, settings.seed, settings.alpha_min,
            resampler, k, basis, starts=starts,
        )
        bias[composite.id] = bias_rows(matrix, coders)
        if sessions is not None:
            try:
                studies[composite.id] = d_study(rows, sessions, k, settings.alpha_min, starts)
            except UndefinedStatistic as reason:
                studies[composite.id] = {"reason": str(reason)}
    return composites, bias, studies
