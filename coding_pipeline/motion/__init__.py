"""Motion energy of caregiver and child from video, and movement synchrony (issue 18).

The `motion` stage: sessions.csv + rois.csv -> motion/<dyad_id>_<timepoint>.csv per session,
with segment's guarantees (one run per study, resumable, progress, local workers or a Dask
cluster; see stage.py); then synchrony per session beside the ratings. Modules, in the order a
session goes through them:

- rois.py       validate the rows of rois.csv (a box per person, optionally background, per
                session)
- frames.py     one still per session as displayed, to draw the ROIs on (`rois push`)
- roi_files.py  the study's ROI files (rois.csv written by `rois pull` with its history, the
                stills' key rois/frames.csv)
- jobs.py       MotionJob per session (its files, ROIs, settings and their fingerprint),
                MotionOutcome, MotionReport
- worker.py     measure_session: skip a complete session, else decode its window once on
                segment's decode path (video/frames.py) and measure it
- energy.py     MotionEnergyAccumulator: fed one decoded frame at a time, per-frame motion
                energy per ROI and the frames where the background moved
- files.py      the motion files: names (safe for any id), columns, rows, atomic writes
- stage.py      motion_study: the orchestration of the above (and MOTION, the runners' Stage)
- series.py     reading the motion files back for synchrony, on a common frame rate
- scores.py     synchrony per session of a study -> scores/motion_scores.csv, motion_pseudo.json

Import from the modules (this package imports nothing, so that reading motion files does not
load the video stack): `motion.stage.motion_study`, `motion.files.motion_csv_path` and
`MOTION_COLUMNS`, `motion.rois.validate_rois`, `motion.energy.MotionEnergyAccumulator`.

The synchrony statistics over these series are pure and live in `coding_pipeline.stats.synchrony`
and `coding_pipeline.stats.pseudo_synchrony`; the Label Studio side of drawing ROIs is
`coding_pipeline.labelstudio.rois`.
"""
