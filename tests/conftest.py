"""Shared fixtures: ONE real local Label Studio per test session, and studies that use it.

`label_studio` starts the server (first boot about 30-60 s) in a temporary folder on a free
loopback port, serving local files from pytest's base temporary folder (so every test's
tmp_path can hold clips it serves), and stops it when the session ends.

`default_label_studio` is a second real server, started only by the tests that need it, with
Label Studio's own defaults: no local-files serving, no S3, personal access tokens (one is minted
by logging in, as a lab's user would from Account & Settings).

`postgres` is a real PostgreSQL server (Debian's binaries: on PATH or in
/usr/lib/postgresql/*/bin) in a temporary folder, on 127.0.0.1 and a unix socket in that folder,
with a password-protected superuser; run as the `postgres` (else `nobody`) user when the tests
run as root, since PostgreSQL refuses root. Tests that need it skip when it is not installed
(scripts/test.sh installs it when run as root).

`ls_study` is a fresh study folder with tiny real H.264/AAC clips and a clip key whose dyad
ids, arms, timepoints and source names are distinctive, pointed at that server (URL in
study.toml, token in LABEL_STUDIO_API_KEY for the test).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import httpx
import numpy as np
import pytest

from coding_pipeline.study import Study, init_study, load_study, write_text_atomic


@dataclass(frozen=True)
class LabelStudioServer:
    """The test session's server: where it is and how to log in (admin)."""

    url: str
    token: str = field(repr=False)
    email: str
    password: str = field(repr=False)
    document_root: Path | None  # None: the server does not serve local files
    host: Study | None


@pytest.fixture(scope="session")
def label_studio(tmp_path_factory) -> LabelStudioServer:
    """A real Label Studio 1.23 on 127.0.0.1, shared by the whole test session."""
    from coding_pipeline.labelstudio.server import read_credentials, start_server, stop_server

    root = tmp_path_factory.getbasetemp().resolve()
    host = init_study(root / "label-studio-host", name="test server")
    text = host.toml_path.read_text(encoding="utf-8")  # the S3 tests use a store on 127.0.0.1
    host.toml_path.write_text(
        text.replace('url = ""', 'url = ""\nprivate_network_storage = true', 1), encoding="utf-8")
    host = load_study(host.root)
    url = start_server(host, document_root=root)
    credentials = read_credentials(host)
    try:
        yield LabelStudioServer(
            url=url, token=credentials.token, email=credentials.email,
            password=credentials.password, document_root=root, host=host,
        )
    finally:
        stop_server(host)


@pytest.fixture(scope="session")
def default_label_studio(tmp_path_factory) -> LabelStudioServer:
    """A real Label Studio 1.23 as it comes (no local files, no S3), on 127.0.0.1."""
    from coding_pipeline.labelstudio.addresses import free_port
    from coding_pipeline.labelstudio.coders import coder_session

    folder = tmp_path_factory.mktemp("default-label-studio")
    port = free_port()
    email, password = "lab-admin@example.org", "Lab-" + secrets.token_urlsafe(16)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABEL_STUDIO_")}
    env.update({
        "LABEL_STUDIO_BASE_DATA_DIR": str(folder), "LABEL_STUDIO_USERNAME": email,
        "LABEL_STUDIO_PASSWORD": password, "SENTRY_DSN": "", "FRONTEND_SENTRY_DSN": "",
        "LATEST_VERSION_CHECK": "false", "COLLECT_ANALYTICS": "false",
    })
    with (folder / "server.log").open("ab") as log:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "label-studio"), "start", "--no-browser",
             "--internal-host", "127.0.0.1", "--port", str(port)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
            cwd=folder, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/health/", timeout=3).status_code == 200:
                    break
            assert process.poll() is None, (folder / "server.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "the default Label Studio did not start"
            time.sleep(0.5)
        with contextlib.closing(coder_session(url, email, password)) as session:
            minted = session.post("/api/token/")
        assert minted.status_code == 201, minted.text
        yield LabelStudioServer(url=url, token=minted.json()["token"], email=email,
                                password=password, document_root=None, host=None)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


@dataclass(frozen=True)
class PostgresServer:
    """The test session's PostgreSQL: where it is and its superuser (password: keep it out of
    every file and output the pipeline writes)."""

    host: str
    port: int
    user: str
    password: str = field(repr=False)
    socket_dir: Path

    def create_database(self) -> str:
        """A new empty database; returns its URL without the password."""
        import psycopg

        name = f"study_{secrets.token_hex(4)}"
        with psycopg.connect(host=self.host, port=self.port, user=self.user,
                             password=self.password, dbname="postgres", autocommit=True) as db:
            db.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql://{self.user}@{self.host}:{self.port}/{name}"


def postgres_binaries() -> Path | None:
    """The folder holding initdb and postgres: on PATH, else Debian's newest install."""
    found = shutil.which("initdb")
    folders = [Path(os.path.realpath(found)).parent] if found else []
    folders += sorted(Path("/usr/lib/postgresql").glob("*/bin"),
                      key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
                      reverse=True)
    return next((f for f in folders if (f / "initdb").is_file() and (f / "postgres").is_file()),
                None)


def _as_postgres_user() -> tuple[dict, int | None, int | None]:
    """Popen arguments to run as a non-root user when we are root (PostgreSQL refuses root)."""
    if os.geteuid() != 0:
        return {}, None, None
    import pwd

    try:
        account = pwd.getpwnam("postgres")
    except KeyError:
        account = pwd.getpwnam("nobody")
    return {"user": account.pw_uid, "group": account.pw_gid}, account.pw_uid, account.pw_gid


@pytest.fixture(scope="session")
def postgres() -> PostgresServer:
    """A real PostgreSQL for the session, in its own temporary folder."""
    import tempfile

    from coding_pipeline.labelstudio.addresses import free_port

    binaries = postgres_binaries()
    if binaries is None:
        pytest.skip("PostgreSQL is not installed (scripts/test.sh installs Debian's postgresql)")
    run_as, uid, gid = _as_postgres_user()
    folder = Path(tempfile.mkdtemp(prefix="coding-pipeline-pg-"))
    password = "Pg-" + secrets.token_urlsafe(16)
    (folder / "pw").write_text(password + "\n")
    if uid is not None:
        for path in (folder, folder / "pw"):
            os.chown(path, uid, gid)
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.STDOUT, **run_as}
    subprocess.run([str(binaries / "initdb"), "-D", str(folder / "data"), "-U", "coding",
                    "--auth=scram-sha-256", f"--pwfile={folder / 'pw'}", "-E", "UTF8",
                    "--locale=C"], check=True, **quiet)
    (folder / "pw").unlink()
    port = free_port()
    with (folder / "postgres.log").open("ab") as log:
        process = subprocess.Popen(
            [str(binaries / "postgres"), "-D", str(folder / "data"), "-h", "127.0.0.1",
             "-p", str(port), "-k", str(folder), "-c", "fsync=off",
             "-c", "synchronous_commit=off", "-c", "full_page_writes=off"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, **run_as)
    server = PostgresServer(host="127.0.0.1", port=port, user="coding", password=password,
                            socket_dir=folder)
    try:
        import psycopg

        deadline = time.monotonic() + 60
        while True:
            try:
                psycopg.connect(host=server.host, port=port, user="coding", password=password,
                                dbname="postgres", connect_timeout=3).close()
                break
            except psycopg.OperationalError:
                assert process.poll() is None, (folder / "postgres.log").read_text()[-2000:]
                assert time.monotonic() < deadline, "PostgreSQL did not start"
                time.sleep(0.3)
        yield server
    finally:
        process.send_signal(signal.SIGINT)  # fast shutdown
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(folder, ignore_errors=True)


def write_clip(path: Path, seconds: float = 2.0, fps: int = 25, width: int = 160,
               height: int = 120, tone_hz: float = 440.0) -> Path:
    """A tiny real clip: a moving square (H.264, yuv420p) and a sine tone (AAC), in MP4."""
    import av

    frames = int(round(seconds * fps))
    rate = 44100
    with av.open(str(path), "w", format="mp4") as container:
        video = container.add_stream("libx264", rate=Fraction(fps))
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        audio = container.add_stream("aac", rate=rate)
        audio.layout = "mono"
        for index in range(frames):
            image = np.full((height, width, 3), 40, np.uint8)
            x = int(index * (width - 24) / max(frames - 1, 1))
            image[height // 3: height // 3 + 24, x:x + 24] = (250, 200, 30)
            for packet in video.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        times = np.arange(int(seconds * rate)) / rate
        signal = (0.3 * np.sin(2 * np.pi * tone_hz * times)).astype(np.float32)
        for start in range(0, len(signal), 1024):
            frame = av.AudioFrame.from_ndarray(signal[None, start:start + 1024], format="fltp",
                                               layout="mono")
            frame.sample_rate, frame.pts = rate, start
            for packet in audio.encode(frame):
                container.mux(packet)
        for packet in audio.encode():
            container.mux(packet)
    return path


@pytest.fixture(scope="session")
def clip_bank(tmp_path_factory) -> list[Path]:
    """Eight tiny clips made once per session; studies copy them."""
    folder = tmp_path_factory.mktemp("clip-bank")
    return [write_clip(folder / f"bank{i}.mp4", tone_hz=300 + 60 * i) for i in range(8)]


# Distinctive identifiers that must never reach Label Studio (the blinding test scans for them).
DYADS = ["FAMXQ101", "FAMXQ202", "FAMXQ303"]
ARMS = {"FAMXQ101": "ARMWAITLIST", "FAMXQ202": "ARMTREATED", "FAMXQ303": "ARMWAITLIST"}
TIMEPOINTS = ["TPBASELINE", "TPFOLLOWUP"]


def make_study(root: Path, server: LabelStudioServer, bank: list[Path], n_clips: int = 6,
               scheme: str = "sensitivity_involvement_reciprocity.yaml") -> Study:
    """A study at `root` with n_clips real clips and clips.csv, pointed at `server`."""
    study = init_study(root, name="ls test", scheme=scheme, epoch_seconds=2.0)
    served = f'\ndocument_root = "{server.document_root}"' if server.document_root else ""
    text = study.toml_path.read_text(encoding="utf-8").replace(
        'url = ""', f'url = "{server.url}"{served}', 1)
    write_text_atomic(study.toml_path, text)
    study.clips_dir.mkdir(exist_ok=True)
    lines = ["clip_id,dyad_id,timepoint,arm,source,start_s,end_s,file,fps,frames,qc"]
    for index in range(n_clips):
        dyad = DYADS[index % len(DYADS)]
        timepoint = TIMEPOINTS[(index // len(DYADS)) % len(TIMEPOINTS)]
        clip_id = secrets.token_hex(6)
        shutil.copyfile(bank[index % len(bank)], study.clips_dir / f"{clip_id}.mp4")
        lines.append(
            f"{clip_id},{dyad},{timepoint},{ARMS[dyad]},videos/{dyad}_{timepoint}_SRCNAME.mp4,"
            f"{2.0 * index},{2.0 * index + 2},clips/{clip_id}.mp4,25,50,ok"
        )
    write_text_atomic(study.clips_csv, "\n".join(lines) + "\n")
    return load_study(root)


@pytest.fixture
def make_ls_study(label_studio, clip_bank, monkeypatch):
    """A factory of fresh studies with real clips, using the session's Label Studio:
    make_ls_study(root, n_clips=6, scheme=...) -> Study."""
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", label_studio.token)
    monkeypatch.delenv("LABEL_STUDIO_URL", raising=False)

    def make(root: Path, n_clips: int = 6,
             scheme: str = "sensitivity_involvement_reciprocity.yaml") -> Study:
        return make_study(root, label_studio, clip_bank, n_clips=n_clips, scheme=scheme)

    return make


@pytest.fixture
def ls_study(tmp_path, make_ls_study) -> Study:
    """A fresh study with 6 real clips, using the session's Label Studio."""
    return make_ls_study(tmp_path / "study")


@pytest.fixture
def simulated_session():
    """simulated_session(study, url, email): a logged-in session of a SIMULATED coder made by
    simulate_coders (its stored password). Changes made with it are that coder's own, so pull
    takes them as the coder's; the admin's are someone else's."""
    import json

    from coding_pipeline.labelstudio.coders import coder_session

    def session(study: Study, url: str, email: str):
        passwords = json.loads((study.server_dir / "simulated_coders.json").read_text())
        return coder_session(url, email, passwords[email])

    return session


def interview_rows(n_interviews: int = 16, double_share: float = 1.0, seed: int = 0,
                   not_codable: float = 0.05, scheme_path: str = "pdi-rf.yaml",
                   second_coder_shift: float = 0.0):
    """Interview ratings as pull writes them (RF_DESIGN.md): the transcript key's rows
    (transcript_id, dyad_id, timepoint, arm, ...) and ratings.csv rows of a primary coder on
    every interview and a reliability coder on `double_share` of them; values -1..9 as text
    around a dyad-level RF, `not_codable` of the demand-question ratings empty with status
    not_codable, item `overall` for the whole interview. `second_coder_shift`: the
    reliability coder's bias in RF points."""
    import numpy as np

    from coding_pipeline.scheme import load_scheme
    from coding_pipeline.study import resolve_scheme

    scheme = load_scheme(resolve_scheme(scheme_path))
    rng = np.random.default_rng(seed)
    key, rows = [], []
    for index in range(n_interviews):
        transcript_id = f"t{index + 1:012x}"
        dyad, timepoint = f"D{index // 2 + 1}", ("baseline", "post")[index % 2]
        key.append({"transcript_id": transcript_id, "dyad_id": dyad, "timepoint": timepoint,
                    "arm": "AB"[(index // 2) % 2], "interview": "PDI",
                    "source": f"transcripts/{dyad}_{timepoint}.txt", "sha256": "0" * 64,
                    "read_at": "2026-02-01T09:00:00+00:00"})
        level = 2 + (index // 2) % 5 + rng.normal(0, 0.7)
        coders = [("a@lab.org", "primary")]
        if index < round(double_share * n_interviews):
            coders.append(("b@lab.org", "reliability"))
        for coder, role in coders:
            stamp = f"2026-03-{index % 28 + 1:02d}T10:00:00+00:00"
            shift = second_coder_shift if role == "reliability" else 0.0
            for item in scheme.items:
                value = str(int(np.clip(round(level + shift + rng.normal(0, 0.8)), -1, 9)))
                status = "rated"
                if item.id != "overall" and rng.random() < not_codable:
                    value, status = "", "not_codable"
                rows.append({
                    "clip_id": transcript_id, "coder": coder, "item": item.id, "value": value,
                    "annotation_id": str(1000 + index), "project": "7", "batch": "rf-01",
                    "role": role, "status": status, "created_at": stamp, "updated_at": stamp,
                    "lead_time": "600.0", "scheme_version": str(scheme.version),
                    "notes": ""})
    return key, rows


@pytest.fixture
def add_interview_ratings():
    """add_interview_ratings(study, **interview_rows options): writes transcripts.csv and
    appends the interview ratings to ratings.csv (made when missing). Returns the rows."""
    import pandas as pd

    def add(study: Study, **options):
        key, rows = interview_rows(**options)
        pd.DataFrame(key).to_csv(study.transcripts_csv, index=False)
        table = pd.DataFrame(rows)
        if study.ratings_csv.is_file():
            table = pd.concat([pd.read_csv(study.ratings_csv, dtype=str,
                                           keep_default_na=False), table])
        table.to_csv(study.ratings_csv, index=False)
        return rows

    return add
