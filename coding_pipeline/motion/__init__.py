"""Motion energy of caregiver and child from video (issue 18).

- `rois`: validate the rows of rois.csv (a box per person, optionally background, per session).
- `energy`: a streaming accumulator fed decoded frames, giving per-frame motion energy per ROI
  and the frames where the background moved.

The synchrony statistics over these series are pure and live in `coding_pipeline.stats.synchrony`
and `coding_pipeline.stats.pseudo_synchrony`.
"""
