"""SIMULATED coders, for the demo and the tests: real accounts, made-up ratings.

Each simulated coder signs up through the invite link (so is a real member who can log in; the
generated passwords are kept in STUDY/.labelstudio/simulated_coders.json, mode 0600), is named
"Simulated Coder A", "Simulated Coder B", ..., and submits, in their own session, one annotation
for every task of their projects that they have not annotated yet.

Ratings model: each unit (clip or interview) has a latent quality z = 0.8 d + 0.6 u, d ~ N(0, 1)
its dyad's effect (seeded by the dyad id: a mother's clips and interviews share it, as real
ratings do; 64% of z's variance, so that the demo's few dyads show a session score worth
averaging: a D-study G near 0.8 with the demo's clips, rarely below 0.3) and u ~ N(0, 1) the
unit's own; each unit x item a deviation e ~ N(0, 1); the true score of an item is
mid + 0.6 * half-range * (0.8 z + 0.6 e) (mirrored for reverse-keyed items);
a coder adds a fixed bias ~ N(0, 0.1 * half-range) and noise ~ N(0, 0.25 * half-range), rounded
and clipped to the scale. Krippendorff's alpha between two such coders comes out around
0.75-0.85 (single items 0.6-0.9). Latent scores depend only on the seed, the dyad and the unit
id, so every coder sees the same truth. (The simulator reads the keys, clips.csv and
transcripts.csv, for the dyads: it is a demo and test tool.)

Interview tasks are rated the same way on the transcript scheme's items; a question whose
passage was not found, and about 5% of the others, are rated "not codable".
"""

from __future__ import annotations

import hashlib
import json
import secrets
import string
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np

from coding_pipeline.batches import is_interview_batch, load_batches
from coding_pipeline.errors import PipelineError
from coding_pipeline.labelstudio.client import Connection, connect
from coding_pipeline.labelstudio.coders import coder_invite_link, coder_session, list_members
from coding_pipeline.labelstudio.config import NOTES_NAME, VIDEO_NAME
from coding_pipeline.labelstudio.projects import (
    ServerProjects,
    export_project,
    read_projects,
    server_projects,
)
from coding_pipeline.labelstudio.transcript_config import TRANSCRIPT_NAME, WHERE_PREFIX
from coding_pipeline.scheme import Scheme, load_scheme
from coding_pipeline.study import Study, read_clips, read_transcript_key, write_json_atomic
from coding_pipeline.transcripts.inputs import interview_scheme
from coding_pipeline.transcripts.scheme import TranscriptScheme


def _rng(*parts: object) -> np.random.Generator:
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def simulated_ratings(scheme: Scheme, clip_id: str, coder: str, seed: int,
                      dyad: str | None = None) -> dict[str, int]:
    """One simulated coder's ratings of one clip (or interview): item id -> scale point (pure,
    seeded); with `dyad`, the unit's latent quality carries the dyad's effect."""
    z = _rng(seed, "clip", clip_id).normal()
    if dyad is not None:
        z = 0.8 * _rng(seed, "dyad", dyad).normal() + 0.6 * z
    bias = _rng(seed, "coder", coder).normal()
    noise = _rng(seed, "noise", clip_id, coder)
    ratings = {}
    for item in scheme.items:
        half = (item.scale.max - item.scale.min) / 2
        mid = (item.scale.max + item.scale.min) / 2
        e = _rng(seed, "item", clip_id, item.id).normal()
        true = 0.6 * half * (0.8 * z + 0.6 * e)
        true = mid - true if item.reverse else mid + true
        value = true + 0.1 * half * bias + 0.25 * half * noise.normal()
        ratings[item.id] = int(np.clip(np.rint(value), item.scale.min, item.scale.max))
    return ratings


def annotation_result(ratings: dict[str, int | str], note: str = "",
                      to_name: str = VIDEO_NAME) -> list[dict]:
    """Label Studio result JSON for whole-clip (or whole-interview) ratings (and an optional
    note)."""
    result = [
        {"from_name": item_id, "to_name": to_name, "type": "choices",
         "value": {"choices": [str(value)]}, "origin": "manual"}
        for item_id, value in ratings.items()
    ]
    if note:
        result.append({"from_name": NOTES_NAME, "to_name": to_name, "type": "textarea",
                       "value": {"text": [note]}, "origin": "manual"})
    return result


@dataclass(frozen=True)
class _Rater:
    """How a simulated coder rates one project's tasks."""

    scheme: Scheme
    dyads: dict[str, str]  # unit id -> dyad id
    transcript: TranscriptScheme | None = None  # interview projects

    def result(self, task: dict, coder: str, seed: int, note: str) -> list[dict]:
        clip_id = str(task["data"]["clip_id"])
        ratings: dict[str, int | str] = dict(simulated_ratings(
            self.scheme, clip_id, coder, seed, self.dyads.get(clip_id)))
        if self.transcript is None:
            return annotation_result(ratings, note)
        rng = _rng(seed, "not codable", clip_id, coder)
        for item_id in ratings:
            where = str(task["data"].get(f"{WHERE_PREFIX}{item_id}", ""))
            if where.startswith("Not found") or (item_id in self.transcript.question_items
                                                  and rng.random() < 0.05):
                ratings[item_id] = self.transcript.not_codable
        return annotation_result(ratings, note, TRANSCRIPT_NAME)


def _raters(study: Study, projects) -> dict[str, _Rater]:
    """project id -> how its tasks are rated (the video scheme, or the interview scheme)."""
    key = read_transcript_key(study).rename(columns={"transcript_id": "clip_id"})
    units = [key, read_clips(study)] if study.clips_csv.is_file() else [key]
    dyads = {unit: dyad for table in units
             for unit, dyad in zip(table["clip_id"], table["dyad_id"], strict=True)}
    video = _Rater(load_scheme(study.scheme_path), dyads)
    interviews = {p.name for p in load_batches(study) if is_interview_batch(p)}
    transcript = interview_scheme(study) if interviews else None
    interview = _Rater(transcript.scheme, dyads, transcript) if transcript else video
    return {str(p): interview if b in interviews else video
            for p, b in zip(projects["project_id"], projects["batch"], strict=True)}


def _passwords_path(study: Study) -> Path:
    return study.server_dir / "simulated_coders.json"


def _rate_projects(
    session: httpx.Client, connection: Connection, listed: ServerProjects,
    project_ids: list[str], coder: str, raters: dict[str, _Rater], seed: int,
) -> int:
    """Submit, in the coder's own session, an annotation for every task they have not rated."""
    me = session.get("/api/current-user/whoami").json()["id"]
    submitted = 0
    for project_id in project_ids:
        server = listed.connection_for(connection, int(project_id))
        for task in export_project(server, int(project_id)):
            if any(_author(a) == me for a in task.get("annotations", [])):
                continue
            clip_id = str(task["data"]["clip_id"])
            rng = _rng(seed, "extra", clip_id, coder)
            note = "SIMULATED coder: example note" if rng.random() < 0.1 else ""
            response = session.post(f"/api/tasks/{task['id']}/annotations/", json={
                "result": raters[str(project_id)].result(task, coder, seed, note),
                "lead_time": round(float(rng.uniform(60, 180)), 3),
            })
            if response.status_code != 201:
                raise PipelineError(
                    f"Simulated coder {coder} could not submit an annotation for task "
                    f"{task['id']} at {connection.url} (HTTP {response.status_code})."
                )
            submitted += 1
    return submitted


def simulate_coders(
    study: Study, coders: list[str], seed: int = 0, url: str | None = None,
    token: str | None = None,
) -> int:
    """Create the SIMULATED coders' accounts and let each rate every task of their projects.

    Returns the number of annotations submitted (0 when every task is already rated).
    """
    connection = connect(study, url, token)
    projects = read_projects(study)
    raters = _raters(study, projects)
    path = _passwords_path(study)
    passwords = json.loads(path.read_text()) if path.is_file() else {}
    members = {m.email for m in list_members(connection)}
    listed = server_projects(connection)
    submitted = 0
    for number, coder in enumerate(c.lower() for c in coders):
        if coder in members and coder not in passwords:
            raise PipelineError(
                f"{coder} is already a member of {connection.url} but not a simulated coder "
                "made here: simulate only with addresses of simulated coders."
            )
        if coder in members:
            session = coder_session(connection.url, coder, passwords[coder])
        else:
            passwords[coder] = "Sim-" + "".join(
                secrets.choice(string.ascii_letters + string.digits) for _ in range(20))
            write_json_atomic(path, passwords, mode=0o600)
            session = coder_session(connection.url, coder, passwords[coder],
                                    invite=coder_invite_link(study, connection, coder))
        try:
            me = session.get("/api/current-user/whoami").json()["id"]
            letter = string.ascii_uppercase[number % 26]
            session.patch(f"/api/users/{me}/",
                          json={"first_name": "Simulated", "last_name": f"Coder {letter}"})
            mine = list(projects.loc[projects["coder"] == coder, "project_id"])
            submitted += _rate_projects(session, connection, listed, mine, coder, raters, seed)
        finally:
            session.close()
    return submitted


def _author(annotation: dict) -> int | None:
    author = annotation.get("completed_by")
    return author.get("id") if isinstance(author, dict) else author
