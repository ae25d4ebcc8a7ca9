"""Clips in an S3-compatible bucket instead of local files, when study.toml configures one:

    [label_studio.s3]
    bucket = "lab-clips"
    prefix = "trial-2026/clips"          # optional
    endpoint = "https://s3.lab.org"      # optional: any S3-compatible store (MinIO, Ceph, ...)
    region = "eu-central-1"              # optional

The keys come from the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), never from a
study file. Push uploads the clips the bucket does not hold yet (keys are the opaque clip file
names) and registers the bucket as the project's S3 storage with presigned URLs, so coders'
browsers fetch clips straight from the bucket.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from coding_pipeline.errors import PipelineError
from coding_pipeline.labelstudio.client import Connection
from coding_pipeline.study import Study

KEY_ENV = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
PRESIGN_TTL_MINUTES = 60


@dataclass(frozen=True)
class S3Settings:
    """Where the study's clips live in S3."""

    bucket: str
    prefix: str = ""
    endpoint: str = ""
    region: str = ""

    def key(self, file_name: str) -> str:
        """The object key of a clip file (the prefix, then the opaque file name)."""
        return f"{self.prefix.strip('/')}/{file_name}" if self.prefix.strip("/") else file_name

    def url(self, file_name: str) -> str:
        """The s3:// URI a task points at; Label Studio presigns it for the coder."""
        return f"s3://{self.bucket}/{self.key(file_name)}"


def s3_settings(study: Study) -> S3Settings | None:
    """The [label_studio.s3] settings of study.toml, or None when it has none."""
    raw = study.config.raw.get("label_studio", {}).get("s3")
    if raw is None:
        return None
    where = f"{study.toml_path}: [label_studio.s3]"
    if not isinstance(raw, dict) or not isinstance(raw.get("bucket"), str) or not raw["bucket"]:
        raise PipelineError(f"{where} needs bucket = \"NAME\" (prefix, endpoint, region optional).")
    unknown = sorted(set(raw) - {"bucket", "prefix", "endpoint", "region"})
    if unknown:
        raise PipelineError(f"{where}: unknown setting(s) {', '.join(unknown)}.")
    return S3Settings(**{k: str(v) for k, v in raw.items()})


def _keys() -> tuple[str, str]:
    missing = [name for name in KEY_ENV if not os.environ.get(name)]
    if missing:
        raise PipelineError(
            f"study.toml puts the clips in S3, but {' and '.join(missing)} is not set: export "
            "the bucket's access keys in the environment (they are never written to files)."
        )
    return os.environ[KEY_ENV[0]], os.environ[KEY_ENV[1]]


def _client(settings: S3Settings):
    import boto3

    key_id, secret = _keys()
    return boto3.client(
        "s3", endpoint_url=settings.endpoint or None, region_name=settings.region or None,
        aws_access_key_id=key_id, aws_secret_access_key=secret,
    )


def upload_missing(settings: S3Settings, files: list[Path]) -> int:
    """Upload the clip files the bucket does not hold yet; return how many were uploaded."""
    from botocore.exceptions import BotoCoreError, ClientError

    client = _client(settings)
    where = f"S3 bucket {settings.bucket}" + (f" at {settings.endpoint}" * bool(settings.endpoint))
    try:
        present: set[str] = set()
        pages = client.get_paginator("list_objects_v2").paginate(
            Bucket=settings.bucket, Prefix=settings.key(""))
        for page in pages:
            present |= {item["Key"] for item in page.get("Contents", [])}
        todo = [path for path in files if settings.key(path.name) not in present]
        for path in todo:
            client.upload_file(str(path), settings.bucket, settings.key(path.name),
                               ExtraArgs={"ContentType": "video/mp4"})
    except (BotoCoreError, ClientError) as exc:
        raise PipelineError(f"{where}: {exc}. Check the bucket, endpoint and keys.") from None
    return len(todo)


def ensure_s3_storage(connection: Connection, project_id: int, settings: S3Settings) -> None:
    """Register the bucket as the project's S3 import storage (presigned URLs), once."""
    storage = connection.client.import_storage.s3
    existing = connection.call("listing storages", lambda: storage.list(project=project_id))
    if any(s.bucket == settings.bucket and (s.prefix or "") == settings.prefix
           for s in existing):
        return
    key_id, secret = _keys()
    optional = {"s3endpoint": settings.endpoint, "region_name": settings.region}
    connection.call(
        f"registering S3 bucket {settings.bucket} (Label Studio must be able to reach it)",
        lambda: storage.create(
            project=project_id, bucket=settings.bucket, prefix=settings.prefix,
            aws_access_key_id=key_id, aws_secret_access_key=secret, presign=True,
            presign_ttl=PRESIGN_TTL_MINUTES, use_blob_urls=False, title="Study clips (S3)",
            **{name: value for name, value in optional.items() if value},
        ),
    )
