"""Who may read and write the study: permission messages, private files, the open-folder warning.

A study links clips to families, so the pipeline keeps its files to their owner (or the lab's
group, with `group_access = true` in study.toml) and says plainly what to do when this user
may not read or write a file.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from coding_pipeline.errors import PipelineError

_WARNED: set[Path] = set()


def permission_message(path: Path, action: str = "write") -> str:
    """What to say when this user may not read or write `path`."""
    return (f"{path}: permission denied: this user cannot {action} it. Run the command as the "
            f"study folder's owner, or give this user access (`ls -ld {Path(path).parent}` shows "
            "the owner); if the folder is read-only (a backup, a mounted copy), copy the study "
            "folder somewhere writable and run the command there.")


def read_bytes(path: Path) -> bytes:
    """A file's bytes; a folder or file this user may not read is a clear error."""
    try:
        return Path(path).read_bytes()
    except PermissionError:
        raise PipelineError(permission_message(Path(path), "read")) from None


def private_umask(group_access: bool) -> int:
    """The umask that makes new files 0600 and folders 0700 (0640/0750 for a lab group)."""
    return 0o027 if group_access else 0o077


@contextmanager
def private_files(group_access: bool = False) -> Iterator[None]:
    """New files 0600 and folders 0700 (0640/0750 for a lab group) inside the block."""
    previous = os.umask(private_umask(group_access))
    try:
        yield
    finally:
        os.umask(previous)


def warn_if_readable(root: Path, group_access: bool) -> None:
    """One warning per process when users other than the owner (and the lab's group, when
    study.toml allows it) can read the study folder."""
    if os.name != "posix" or root.resolve() in _WARNED:
        return
    mode = stat.S_IMODE(root.stat().st_mode)
    open_to = mode & (0o007 if group_access else 0o077)
    if not open_to:
        return
    _WARNED.add(root.resolve())
    who = "other users" if group_access or not mode & 0o070 else "its group and other users"
    fix = "chmod -R o-rwx" if group_access else "chmod -R go-rwx"
    print(
        f"Warning: {root} (mode {mode:04o}) can be read by {who}, and clips.csv and "
        f"sessions.csv link clips to families: run `{fix} {root}`. To share the study with a lab "
        "group, set group_access = true under [study] in study.toml, then "
        f"`chgrp -R GROUP {root} && chmod -R g+rX,o-rwx {root}`.", file=sys.stderr)
