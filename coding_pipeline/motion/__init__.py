"""Motion energy of caregiver and child from video, and movement synchrony (issue 18).

- `rois`: validate the rows of rois.csv (a box per person, optionally background, per session).
- `roi_files`: the study's ROI files (rois.csv written by `rois pull` with its history, the
  stills' key rois/frames.csv).
- `frames`: one still per session as displayed, to draw the ROIs on.
- `energy`: a streaming accumulator fed decoded frames, giving per-frame motion energy per ROI
  and the frames where the background moved.
- `series`: the motion/<dyad_id>_<timepoint>.csv files (names, columns, reading) and the common
  frame rate.
- `scores`: synchrony per session of a study -> scores/motion_scores.csv, motion_pseudo.json.

The synchrony statistics over these series are pure and live in `coding_pipeline.stats.synchrony`
and `coding_pipeline.stats.pseudo_synchrony`; the Label Studio side of drawing ROIs is
`coding_pipeline.labelstudio.rois`.
"""
