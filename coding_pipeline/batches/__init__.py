"""Coding batches: which coder rates which clip, in which order.

Planning is pure and seeded (`plan_coding_batch` in `coding`, `plan_training_batch` and
`plan_recalibration_batch` in `plan`, text summaries in `summary`); `files` adds the study's
files around it (`create_batch`, `create_training_batch`, `load_batches`, ...). A batch is two
files in STUDY/batches/:

    <name>.csv    clip_id, coder, role, order   (order: 1-based position in that coder's queue)
    <name>.json   name, kind, created_at, coders, master, seed, reliability_share (and, for
                  consensus and recalibration batches, their own fields: see consensus.py)

Batches of interviews (`interviews=True`): the same planning over the interviews of
transcripts.csv, each one's transcript id in `clip_id`; NAME.json then says `"unit":
"interview"`. Interviews and clips are planned apart (an interview batch's fairness history is
the study's earlier interview batches).

Roles: `primary` (the coder first assigned to a clip in a coding batch), `reliability` (the second
coder of a double-coded clip), `training` (a trainee on a training clip), `master` (the master
coder on a training clip) and `consensus` (the coder who records the agreed rating of a clip
whose coders disagreed). Training and recalibration batches (kind `training`) draw from all
clips and do not use them up.

Fair double coding: within a batch each coder's number of primary clips, and of second-coder
clips, differ by at most one (primaries: whenever the single-coded clips are enough to level
them); across batches, ties go to the coders behind on the study's earlier coding batches, so
the cumulative counts stay within a few clips; the pair (primary, second coder) of each
double-coded clip favours the pairs that have shared fewest clips, so every pair of coders
shares clips; the double-coded share is sampled by stratum (timepoint x arm).

Every name below is re-exported here, so `from coding_pipeline import batches` and
`batches.create_batch(...)` keep working.
"""

from coding_pipeline.batches.coding import Loads, pair_matrix, plan_coding_batch
from coding_pipeline.batches.files import (
    INTERVIEW_UNIT,
    batches_dir,
    create_batch,
    create_recalibration_batch,
    create_training_batch,
    interview_units,
    is_interview_batch,
    load_assignments,
    load_batches,
    new_name,
    save_plan,
)
from coding_pipeline.batches.plan import (
    ASSIGNMENT_COLUMNS,
    META_KEYS,
    BatchPlan,
    _strata,
    _stratified_sample,
    families_of,
    order_queues,
    parse_coders,
    plan_recalibration_batch,
    plan_training_batch,
    spread_order,
)
from coding_pipeline.batches.summary import format_pair_matrix, format_plan

__all__ = [
    "INTERVIEW_UNIT", "interview_units", "is_interview_batch",
    "ASSIGNMENT_COLUMNS", "META_KEYS", "BatchPlan", "Loads", "_strata", "_stratified_sample",
    "batches_dir", "create_batch", "create_recalibration_batch", "create_training_batch",
    "families_of", "format_pair_matrix", "format_plan", "load_assignments", "load_batches",
    "new_name", "order_queues", "pair_matrix", "parse_coders", "plan_coding_batch",
    "plan_recalibration_batch", "plan_training_batch", "save_plan", "spread_order",
]
