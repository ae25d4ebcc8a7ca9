"""study.batch_files, the one reader of batches/*.csv, and the settings' defaults."""

import pandas as pd
import pytest

from coding_pipeline import batches
from coding_pipeline.errors import PipelineError
from coding_pipeline.study import (
    DEFAULT_SEED,
    StudyConfig,
    batch_clip_ids,
    init_study,
    read_clips,
    seed_or_random,
    write_clip_key,
    write_csv_atomic,
)

IDS = [f"{n:012x}" for n in range(6)]


@pytest.fixture
def study(tmp_path):
    study = init_study(tmp_path / "s")
    write_clip_key(study, pd.DataFrame({
        "clip_id": IDS, "dyad_id": ["D1", "D1", "D2", "D2", "D3", "D3"], "timepoint": "T1",
        "arm": "", "file": [f"clips/{c}.mp4" for c in IDS]}))
    return study


def test_every_batch_csv_counts_with_or_without_its_json(study):
    plan = batches.create_batch(study, "a@lab.org,b@lab.org", reliability_share=0.5, seed=1,
                                clip_ids=IDS[:2])
    by_hand = study.batches_dir / "by-hand.csv"  # saved by Excel: BOM and semicolons
    by_hand.write_bytes("\ufeffClip ID;coder\n".encode() + f"{IDS[2]};c@lab.org\n".encode())
    write_csv_atomic(study.batches_dir / "notes.csv", pd.DataFrame({"note": ["x"]}))
    given = batch_clip_ids(study)
    assert given == {study.batches_dir / f"{plan.name}.csv": set(IDS[:2]), by_hand: {IDS[2]}}


def test_a_batch_cut_short_stops_the_strict_reader_not_the_clip_key(study):
    """A batch cut inside a clip id ('000...') is the batch's damage: it is not blamed on
    clips.csv (as a clip the key lost), and loading the batches names it."""
    plan = batches.create_batch(study, "a@lab.org,b@lab.org", reliability_share=0, seed=1)
    path = study.batches_dir / f"{plan.name}.csv"
    path.write_bytes(path.read_bytes()[:-30])
    with pytest.raises(PipelineError, match="is damaged .* batch file is written once"):
        batch_clip_ids(study)
    assert batch_clip_ids(study, skip_unreadable=True) == {}
    assert list(read_clips(study)["clip_id"]) == IDS
    with pytest.raises(PipelineError, match="is damaged"):
        batches.load_batches(study)


def test_a_clip_given_to_coders_but_gone_from_the_key_stops_read_clips(study):
    batches.create_batch(study, "a@lab.org", reliability_share=0, seed=1)
    for copy in (study.root / ".segment" / "keys").glob("*.csv"):
        copy.unlink()
    write_clip_key(study, read_clips(study).iloc[:4])
    with pytest.raises(PipelineError, match=r"lists 4 clips but 2 more are in batch batch-01\.csv"):
        read_clips(study)


def test_the_written_study_toml_holds_the_defaults(study):
    written, default = StudyConfig.from_toml(study.toml_path), StudyConfig()
    for _section, _key, attribute, _kind, _allowed in StudyConfig.FIELDS:
        if attribute != "name":
            assert getattr(written, attribute) == getattr(default, attribute), attribute
    assert written.seed == DEFAULT_SEED
    assert seed_or_random(7) == 7
    assert len({seed_or_random(None) for _ in range(5)}) > 1
