"""Inter-rater reliability of a ratings table: per item, per composite, per coder pair,
coder certification against the master coder, and drift by batch and month.

Which ratings count:
- reliability statistics use independent ratings of study clips (role primary, reliability,
  or no role), on the clips rated by two or more coders;
- certification uses training clips: each trainee (role training) against the master coder
  (role master);
- recertification uses recalibration batches: the coder (role recalibration) against the
  master's own ratings of those clips;
- recalibration flags: each coder against the other coders over the coder's last N
  double-coded study clips (study.toml [reliability] recalibration_clips), judged as in
  certification;
- consensus ratings are not independent and are left out of all of them.

Interviews (reflective functioning) go through the same code with the interview scheme,
interviews being the units (`interview_reliability_study`, STUDY/reliability/interviews/):
certification is judged by [certification.interviews] (`InterviewCertificationCriteria`);
with one interview per dyad and timepoint there is no D-study.

Undefined statistics are null with a reason (`reasons` in each entry, `reason` in alpha/icc).

Modules: `entries` (one item's or composite's statistics, coder pairs, bias),
`certification` (certification, recertification, recalibration flags, drift), `d_study`
(session-score reliability), `methods` (the methods paragraph), `compute`
(`compute_reliability`: the whole result, pure), `tables` (the text table and the CSV
tables), `files` (`reliability_study`: reads and writes the study folder).
"""

from coding_pipeline.reliability.certification import (
    CertificationCriteria,
    InterviewCertificationCriteria,
    certification,
    drift,
    recalibration_flags,
    recertification,
)
from coding_pipeline.reliability.compute import (
    ReliabilitySettings,
    compute_reliability,
    reliability_of_checked,
)
from coding_pipeline.reliability.d_study import d_study
from coding_pipeline.reliability.entries import DEFAULT_SEED, band, icc_band
from coding_pipeline.reliability.files import (
    clip_reliability_study,
    interview_reliability_study,
    reliability_of_files,
    reliability_study,
    software_versions,
    write_reliability_files,
)
from coding_pipeline.reliability.tables import flat_table, format_interview_table, format_table
from coding_pipeline.stats.generalizability import g_coefficients

__all__ = [
    "DEFAULT_SEED", "CertificationCriteria", "InterviewCertificationCriteria",
    "ReliabilitySettings", "band", "certification", "clip_reliability_study",
    "compute_reliability", "d_study", "drift", "flat_table", "format_interview_table",
    "format_table", "g_coefficients", "icc_band", "interview_reliability_study",
    "recalibration_flags", "recertification", "reliability_of_checked",
    "reliability_of_files", "reliability_study", "software_versions", "write_reliability_files",
]
