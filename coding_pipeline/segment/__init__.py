"""The segment stage: sessions.csv -> clips/<clip_id>.mp4 + the clip key clips.csv.

Each session is decoded once and cut into epochs (see video/plan.py and video/cut.py);
sessions run in parallel processes. Work is never lost or repeated:
- clips.csv is rewritten (atomically) after each session completes;
- a session in progress has a manifest in STUDY/.segment/ with its planned clip ids and the
  clips completed so far, so a rerun after a crash reuses the ids and skips those clips;
- a rerun skips sessions whose clips are all there with the same source and epochs;
- a session whose clips were already handed to coders (listed in STUDY/batches/*.csv or
  rated in ratings.csv) is never re-cut with other epochs or times;
- one run at a time per study (a lock on STUDY/.segment/lock), and a rerun checks that each
  clip recorded as complete is whole (see video/probe.clip_is_complete) and re-cuts it if not;
- a corrected dyad id, timepoint or arm relabels the session's clips (same video and epochs:
  nothing re-encoded); clips of a session no longer in sessions.csv are removed unless they
  were given to coders (then they are kept, with a warning).

Modules, in the order a session goes through them:
- jobs.py      SessionJob per sessions.csv row, SessionOutcome, SegmentReport, manifest paths
- clips.py     the clip table: read clips.csv, clips given to coders, relabel / drop / replace
- worker.py    process_session: skip a complete session or probe, plan and cut what it lacks
- runner.py    the Runner interface, Stage (what runs per session) and LocalPool (this
               machine's processes); generic over the stage, so `motion` runs on them too
- cluster.py   DaskCluster: the same on a Dask distributed cluster (`--scheduler`)
- progress.py  ProgressDisplay on stderr
- lock.py      the one file-lock helper and the stages' locks (segment_lock, stage_lock)
- stage.py     segment_study: the orchestration of the above
"""

from coding_pipeline.segment.clips import (
    CLIPS_TABLE_COLUMNS,
    EXTRA_COLUMNS,
    pushed_clip_ids,
    read_clip_table,
    relabel_sessions,
)
from coding_pipeline.segment.cluster import DaskCluster, run_session
from coding_pipeline.segment.jobs import (
    SegmentReport,
    SessionJob,
    SessionOutcome,
    listed_sessions,
    make_job,
    plan_label,
    recut_notes,
    session_where,
)
from coding_pipeline.segment.lock import WORKERS_GONE_WAIT, segment_lock, stage_lock
from coding_pipeline.segment.progress import ProgressDisplay
from coding_pipeline.segment.runner import SEGMENT, LocalPool, Runner, Stage
from coding_pipeline.segment.stage import segment_study
from coding_pipeline.segment.worker import MAX_CLIPS_PER_SESSION, process_session

__all__ = [
    "CLIPS_TABLE_COLUMNS",
    "EXTRA_COLUMNS",
    "MAX_CLIPS_PER_SESSION",
    "SEGMENT",
    "WORKERS_GONE_WAIT",
    "DaskCluster",
    "LocalPool",
    "ProgressDisplay",
    "Runner",
    "SegmentReport",
    "SessionJob",
    "SessionOutcome",
    "Stage",
    "listed_sessions",
    "make_job",
    "plan_label",
    "process_session",
    "pushed_clip_ids",
    "read_clip_table",
    "recut_notes",
    "relabel_sessions",
    "run_session",
    "segment_lock",
    "segment_study",
    "session_where",
    "stage_lock",
]
