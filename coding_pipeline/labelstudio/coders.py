"""Coders: the server's members, the invite link, and logging in as a coder.

Coders are named by their email everywhere. On the study's own server each coder has a space
of their own (spaces.py) and joins through that space's link (`coders invite STUDY EMAIL`); on
any other server new coders join through the organisation's one invite link (Label Studio
Community has no roles there: every member can open every project).
"""

from __future__ import annotations

from dataclasses import dataclass

from coding_pipeline.errors import PipelineError
from coding_pipeline.labelstudio.client import Connection
from coding_pipeline.labelstudio.http import coder_session as coder_session  # a coder's login
from coding_pipeline.labelstudio.spaces import ensure_space, invite_url, list_spaces
from coding_pipeline.study import Study


@dataclass(frozen=True)
class Member:
    """A member of the Label Studio organisation."""

    id: int
    email: str
    name: str
    last_activity: str


def list_members(connection: Connection, study: Study | None = None) -> list[Member]:
    """Every member of the server's organisation, by email; on the study's own server, the
    members of every coder's space as well (the connection knows which server it is, so
    `study` is no longer needed; it is accepted for older callers)."""
    spaces = list_spaces(connection) if connection.has_spaces else {}
    found: dict[int, Member] = {}
    for server in [connection, *(connection.in_space(s.id) for s in spaces.values())]:
        users = server.call("listing members", server.client.users.list)
        for u in users:
            found.setdefault(int(u.id), Member(
                id=int(u.id), email=str(u.email or "").lower(),
                name=" ".join(p for p in (u.first_name, u.last_name) if p),
                last_activity=str(u.last_activity or ""),
            ))
    return sorted(found.values(), key=lambda m: m.email)


def format_members(members: list[Member]) -> str:
    """Members as a plain table: email, name, last activity."""
    width = max([len("email")] + [len(m.email) for m in members])
    lines = [f"{'email'.ljust(width)}  {'name'.ljust(24)}  last activity"]
    for member in members:
        lines.append(
            f"{member.email.ljust(width)}  {member.name[:24].ljust(24)}  "
            f"{member.last_activity[:19].replace('T', ' ')}"
        )
    return "\n".join(lines)


def invite_link(connection: Connection) -> str:
    """The link a new coder opens to create their account in this organisation."""
    invite = connection.call(
        "getting the invite link", connection.client.organizations.invites.get_invite_link)
    return f"{connection.url}{invite.invite_url}"


def coder_invite_link(study: Study, connection: Connection, email: str | None) -> str:
    """The sign-up link for a coder: on the study's own server the link of that coder's own
    space (made if needed; only that email can use it), elsewhere the organisation's one link."""
    if not connection.has_spaces:
        return invite_link(connection)
    if not email:
        raise PipelineError(
            f"Each coder has a space of their own on {connection.url}: give the coder's email, "
            f"e.g. `coding-pipeline coders invite {study.root} coder@lab.org`.")
    if "@" not in email:
        raise PipelineError(f"'{email}' is not an email address: give the coder's email.")
    return invite_url(connection, ensure_space(connection, email.strip().lower()))


def require_members(connection: Connection, emails: list[str]) -> None:
    """Raise a PipelineError naming every email that is not a member of the server (or of a
    coder's space on the study's own server)."""
    known = {m.email for m in list_members(connection)}
    missing = [e for e in emails if e.lower() not in known]
    if missing:
        raise PipelineError(
            f"Not a member of Label Studio at {connection.url}: {', '.join(missing)}. Send them "
            "the link from `coding-pipeline coders invite STUDY EMAIL`, let them sign up with that "
            "email, then try again (`coding-pipeline coders list STUDY` shows who has)."
        )
