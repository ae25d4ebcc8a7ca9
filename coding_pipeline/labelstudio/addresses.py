"""Addresses the study's server listens on: loopback or not, free ports, the names it answers to."""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import socket

from coding_pipeline.errors import PipelineError
from coding_pipeline.labelstudio.credentials import HOST


def is_loopback(host: str) -> bool:
    """True if `host` is a loopback address (reachable from this machine only)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_warning(host: str) -> str | None:
    """The warning printed when the server listens on an address other machines can reach."""
    if is_loopback(host):
        return None
    return (
        f"WARNING: Label Studio listens on {host}, which is not a loopback address: other "
        "machines on the network can reach it, and with it the families' videos. Put it behind "
        "HTTPS and a firewall that admits only the coders, or restart it with --host 127.0.0.1."
    )


def served_hosts(host: str) -> str:
    """More names a server listening on every address answers to (this machine's own)."""
    if host not in ("0.0.0.0", "::"):
        return ""
    names = {socket.gethostname(), socket.getfqdn()}
    with contextlib.suppress(OSError):
        names |= {info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None)}
    return ",".join(sorted(n for n in names if n))


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def port_is_free(port: int, host: str = HOST) -> bool:
    """True if nothing listens on host:port (old connections closing down do not count)."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT) or isinstance(
                    exc, socket.gaierror):
                raise PipelineError(
                    f"{host} is not an address of this machine: give --host one of its "
                    "addresses (the default, 127.0.0.1, keeps the server private)."
                ) from None
            return False
        return True


def free_port(host: str = HOST) -> int:
    """A TCP port on `host` (default 127.0.0.1) that nothing listens on right now."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]
