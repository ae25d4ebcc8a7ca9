"""Segment caregiver-child interaction videos, code them blind in Label Studio,
and compute inter-rater reliability and per-dyad scores.

The Python API mirrors the command line, one function per command (see the README's
Development section for the whole pipeline in a dozen lines):

    from coding_pipeline import init_study, segment_study, create_batch, push_study, ...

Names are imported when first used, so `import coding_pipeline` stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# function -> module (the command it mirrors)
_API = {
    "init_study": "coding_pipeline.study",  # init
    "load_study": "coding_pipeline.study",
    "segment_study": "coding_pipeline.segment",  # segment
    "create_batch": "coding_pipeline.batches",  # batch create
    "create_training_batch": "coding_pipeline.batches",  # batch create --training
    "create_recalibration_batch": "coding_pipeline.batches",  # batch create --recalibrate
    "create_consensus_batch": "coding_pipeline.consensus",  # consensus create
    "start_server": "coding_pipeline.labelstudio.server",  # server start
    "stop_server": "coding_pipeline.labelstudio.server",  # server stop
    "connect": "coding_pipeline.labelstudio.client",
    "coder_invite_link": "coding_pipeline.labelstudio.coders",  # coders invite
    "push_study": "coding_pipeline.labelstudio.push",  # push
    "pull_study": "coding_pipeline.labelstudio.pull",  # pull
    "study_status": "coding_pipeline.labelstudio.status",  # status
    "simulate_coders": "coding_pipeline.labelstudio.simulate",  # (demo)
    "reliability_study": "coding_pipeline.reliability",  # reliability STUDY
    "reliability_of_files": "coding_pipeline.reliability",  # reliability --ratings
    "score_study": "coding_pipeline.scores",  # scores
    "report_study": "coding_pipeline.report.html",  # report
    "run_demo": "coding_pipeline.demo",  # demo
    "transcripts_study": "coding_pipeline.transcripts.stage",  # transcripts
    "motion_study": "coding_pipeline.motion.stage",  # motion
    "push_rois": "coding_pipeline.labelstudio.rois",  # rois push
    "pull_rois": "coding_pipeline.labelstudio.rois",  # rois pull
}
__all__ = [
    "__version__", "connect", "coder_invite_link", "create_batch", "create_consensus_batch",
    "create_recalibration_batch", "create_training_batch", "init_study", "load_study",
    "pull_study", "push_study", "reliability_of_files", "reliability_study", "report_study",
    "run_demo", "score_study", "segment_study", "simulate_coders", "start_server",
    "stop_server", "study_status", "transcripts_study", "motion_study", "push_rois", "pull_rois",
]

if TYPE_CHECKING:  # for editors and type checkers; at run time __getattr__ imports on use
    from coding_pipeline.batches import (
        create_batch,
        create_recalibration_batch,
        create_training_batch,
    )
    from coding_pipeline.consensus import create_consensus_batch
    from coding_pipeline.demo import run_demo
    from coding_pipeline.labelstudio.client import connect
    from coding_pipeline.labelstudio.coders import coder_invite_link
    from coding_pipeline.labelstudio.pull import pull_study
    from coding_pipeline.labelstudio.push import push_study
    from coding_pipeline.labelstudio.rois import pull_rois, push_rois
    from coding_pipeline.labelstudio.server import start_server, stop_server
    from coding_pipeline.labelstudio.simulate import simulate_coders
    from coding_pipeline.labelstudio.status import study_status
    from coding_pipeline.motion.stage import motion_study
    from coding_pipeline.reliability import reliability_of_files, reliability_study
    from coding_pipeline.report.html import report_study
    from coding_pipeline.scores import score_study
    from coding_pipeline.segment import segment_study
    from coding_pipeline.study import init_study, load_study
    from coding_pipeline.transcripts.stage import transcripts_study


def __getattr__(name: str) -> Any:
    if name not in _API:
        raise AttributeError(f"module 'coding_pipeline' has no attribute {name!r}")
    value = getattr(importlib.import_module(_API[name]), name)
    globals()[name] = value
    return value
