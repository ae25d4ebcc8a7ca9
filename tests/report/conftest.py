"""A study folder with clips, sessions and simulated ratings, for the report tests."""

import numpy as np
import pandas as pd
import pytest

from coding_pipeline.scheme import load_scheme
from coding_pipeline.study import init_study, write_csv_atomic


@pytest.fixture
def rated_study(tmp_path):
    """12 dyads x 2 timepoints x 3 clips, two coders on every clip, one trainee vs a master."""
    study = init_study(tmp_path / "rated", name="Report test")
    scheme = load_scheme(study.scheme_path)
    rng = np.random.default_rng(5)
    clips, sessions, ratings = [], [], []
    for d in range(12):
        arm = "treatment" if d % 2 else "control"
        for t, timepoint in enumerate(["baseline", "post"]):
            sessions.append({"dyad_id": f"D{d:02d}", "timepoint": timepoint, "arm": arm,
                             "video": f"v{d}{t}.mp4", "start": "", "end": "",
                             "child_age": 12 + d + 6 * t})
            for k in range(3):
                clip_id = f"c{d:02d}{t}{k}"
                clips.append({"clip_id": clip_id, "dyad_id": f"D{d:02d}", "timepoint": timepoint,
                              "arm": arm, "source": "x", "start_s": 30.0 * k,
                              "end_s": 30.0 * (k + 1), "file": f"clips/{clip_id}.mp4",
                              "fps": 30, "frames": 900, "qc": "ok"})
                truth = rng.normal(3 + 0.4 * t * (d % 2), 0.9)
                month = "2026-09" if d < 6 else "2026-10"
                for coder, role, noise in (("a@lab.org", "primary", 0.5),
                                           ("b@lab.org", "reliability", 0.6)):
                    for item in scheme.items:
                        value = int(np.clip(np.rint(truth + rng.normal(0, noise)), 1, 5))
                        ratings.append({"clip_id": clip_id, "coder": coder, "item": item.id,
                                        "value": value, "role": role,
                                        "batch": "batch-01" if d < 6 else "batch-02",
                                        "status": "rated",
                                        "updated_at": f"{month}-15T10:00:00+00:00",
                                        "created_at": f"{month}-15T10:00:00+00:00"})
                if d < 3 and t == 0:
                    for coder, role in (("m@lab.org", "master"), ("t@lab.org", "training")):
                        for item in scheme.items:
                            value = int(np.clip(np.rint(truth + rng.normal(0, 0.4)), 1, 5))
                            ratings.append({"clip_id": clip_id, "coder": coder, "item": item.id,
                                            "value": value, "role": role, "batch": "training-01",
                                            "status": "rated",
                                            "updated_at": "2026-08-01T10:00:00+00:00",
                                            "created_at": "2026-08-01T10:00:00+00:00"})
    write_csv_atomic(study.sessions_csv, pd.DataFrame(sessions))
    write_csv_atomic(study.clips_csv, pd.DataFrame(clips))
    write_csv_atomic(study.ratings_csv, pd.DataFrame(ratings))
    study.toml_path.write_text(study.toml_path.read_text().replace("bootstrap = 1000",
                                                                   "bootstrap = 200"))
    return study
