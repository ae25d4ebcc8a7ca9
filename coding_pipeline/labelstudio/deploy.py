"""Running the study's server beyond one workstation: on PostgreSQL, and for remote coders.

Database: `server start STUDY --database postgresql://USER@HOST:PORT/DB` keeps the server's data
in that PostgreSQL database instead of SQLite (the default). The URL, never with a password, is
kept in study.toml as `[label_studio] database`; the password comes from PGPASSWORD or libpq's
password file (PGPASSFILE, else ~/.pgpass), read by the database driver itself at each start:
it is never stored, printed or logged here. A server that already holds data in one database is
not moved to another (that would start an empty server).

Remote coders: `server start STUDY --host ADDR --public-url https://coding.our-lab.org` runs
Label Studio under gunicorn (a production WSGI server) instead of Django's development server,
with ALLOWED_HOSTS, CSRF trusted origins and secure cookies set from the public URL (kept in
study.toml as `[label_studio] public_url`; read by ls_site.settings from
CODING_PIPELINE_LS_PUBLIC_URL). TLS is the reverse proxy's job (see the README):
gunicorn trusts X-Forwarded-Proto from the addresses in FORWARDED_ALLOW_IPS (default: this
machine only). `python -m coding_pipeline.labelstudio.deploy --host H --port P` is the server
process: Label Studio's own start-up (migrations, the admin account) followed by gunicorn.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from coding_pipeline.errors import PipelineError
from coding_pipeline.study import Study, load_study, write_text_atomic

WSGI_WORKERS = 2
WSGI_THREADS = 8
WSGI_TIMEOUT_S = 600  # a large project's export takes a while
DATABASE_ENV = ("DJANGO_DB", "DATABASE_NAME")  # besides POSTGRE_*: never inherited unasked
DATABASE_PREFIXES = ("POSTGRE_", "LABEL_STUDIO_POSTGRE_", "HEARTEX_POSTGRE_")


# ---------------------------------------------------------------- study.toml


def set_label_studio_setting(study: Study, key: str, value: str) -> Study:
    """Write `key = "value"` into study.toml's [label_studio] table (kept comments and all)."""
    lines = study.toml_path.read_text(encoding="utf-8").splitlines()
    entry = f'{key} = "{value}"'
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == "[label_studio]")
    except StopIteration:
        lines += ["", "[label_studio]", entry]
    else:
        end = next((i for i in range(start + 1, len(lines))
                    if lines[i].lstrip().startswith("[")), len(lines))
        pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
        found = next((i for i in range(start + 1, end) if pattern.match(lines[i])), None)
        if found is None:
            lines.insert(start + 1, entry)
        else:
            lines[found] = entry
    write_text_atomic(study.toml_path, "\n".join(lines) + "\n")
    return load_study(study.root)


def _setting(study: Study, key: str) -> str | None:
    value = study.config.raw.get("label_studio", {}).get(key)
    return str(value) if value else None


# ---------------------------------------------------------------- PostgreSQL


@dataclass(frozen=True)
class Database:
    """A PostgreSQL database the server keeps its data in (no password: libpq finds it)."""

    user: str
    host: str
    port: int
    name: str

    @property
    def url(self) -> str:
        host = quote(self.host, safe="") if self.host.startswith("/") else self.host
        host = f"[{host}]" if ":" in host else host
        return f"postgresql://{quote(self.user, safe='')}@{host}:{self.port}/{quote(self.name)}"

    def environment(self) -> dict[str, str]:
        """What Label Studio reads to use this database. POSTGRE_PASSWORD is empty, so the
        driver (libpq) takes PGPASSWORD or the password file itself."""
        return {
            "DJANGO_DB": "postgresql", "POSTGRE_NAME": self.name, "POSTGRE_USER": self.user,
            "POSTGRE_PASSWORD": "", "POSTGRE_HOST": self.host, "POSTGRE_PORT": str(self.port),
        }


def parse_database_url(text: str) -> Database:
    """postgresql://USER@HOST:PORT/DB -> Database; refuses a password in the URL."""
    where = f"--database {text.split('@')[-1] if '@' in text else text}"
    parts = urlsplit(text.strip())
    if parts.scheme not in ("postgresql", "postgres"):
        raise PipelineError(
            f"{where}: give a PostgreSQL URL, postgresql://USER@HOST:PORT/DB (SQLite, the "
            "default, needs no option).")
    if parts.password is not None:
        raise PipelineError(
            "--database must not hold the password (it would end up in study.toml and shell "
            "history): give postgresql://USER@HOST:PORT/DB and put the password in PGPASSWORD "
            "or a line of ~/.pgpass (or the file PGPASSFILE names).")
    try:
        port = parts.port or 5432
    except ValueError:
        raise PipelineError(f"{where}: the port must be a number.") from None
    name = unquote(parts.path.lstrip("/"))
    if not parts.username or not parts.hostname or not name:
        raise PipelineError(
            f"{where}: give user, host and database, as in "
            "postgresql://coding@db.our-lab.org:5432/coding_trial.")
    address = parts.netloc.rsplit("@", 1)[1]  # the host as written (a socket folder keeps case)
    if address.startswith("["):
        host = address[1:address.index("]")]
    else:
        host = unquote(address.rsplit(":", 1)[0] if parts.port else address)
    return Database(user=unquote(parts.username), host=host, port=port, name=name)


def password_file() -> Path:
    """libpq's password file: PGPASSFILE, else ~/.pgpass."""
    return Path(os.environ.get("PGPASSFILE") or Path.home() / ".pgpass")


def check_database(database: Database) -> None:
    """Connect once before starting the server, to fail with one clear sentence."""
    import psycopg

    try:
        psycopg.connect(host=database.host, port=database.port, user=database.user,
                        dbname=database.name, connect_timeout=10).close()
    except psycopg.OperationalError as exc:
        reason = " ".join(str(exc).split("\n")[0].split())
        source = ("PGPASSWORD" if os.environ.get("PGPASSWORD")
                  else f"the password file {password_file()}")
        raise PipelineError(
            f"Cannot open PostgreSQL database {database.url} ({reason}): check the database "
            f"exists and that {source} holds this user's password (PGPASSWORD, or a line "
            "HOST:PORT:DB:USER:PASSWORD in ~/.pgpass or the file PGPASSFILE names, mode 0600)."
        ) from None


def resolve_database(study: Study, given: str | None, has_server: bool) -> Database | None:
    """The database to run on: --database (then kept in study.toml), else study.toml's, else
    None (SQLite). Moving a server that already has data to another database is refused."""
    stored = _setting(study, "database")
    if given is None:
        return parse_database_url(stored) if stored else None
    database = parse_database_url(given)
    if stored != database.url and has_server:
        now = f"PostgreSQL database {stored}" if stored else f"SQLite in {study.server_dir}"
        raise PipelineError(
            f"The study's server already keeps its projects and ratings in {now}: starting it "
            f"on {database.url} would start an empty server. Leave --database out to keep "
            "using it, or use a new study folder for a new server.")
    if stored != database.url:
        set_label_studio_setting(study, "database", database.url)
    return database


def inherited_database_keys(environ: dict[str, str]) -> list[str]:
    """Variables of the caller's environment that would choose Label Studio's database."""
    return [k for k in environ if k in DATABASE_ENV or k.startswith(DATABASE_PREFIXES)
            or k in (f"LABEL_STUDIO_{n}" for n in DATABASE_ENV)]


# ---------------------------------------------------------------- public URL


@dataclass(frozen=True)
class PublicSite:
    """The address remote coders open (a TLS reverse proxy in front of the server)."""

    url: str  # https://host[:port], no path
    host: str

    def environment(self) -> dict[str, str]:
        """What the server reads to be reached at this URL: ls_site.settings adds its host to
        ALLOWED_HOSTS and its origin to the CSRF trusted origins, and makes cookies secure;
        Label Studio builds its pages' links from LABEL_STUDIO_HOST."""
        return {"CODING_PIPELINE_LS_PUBLIC_URL": self.url, "LABEL_STUDIO_HOST": self.url}


def parse_public_url(text: str) -> PublicSite:
    """https://host[:port] -> PublicSite; refuses plain http and paths."""
    parts = urlsplit(text.strip())
    if parts.scheme != "https" or not parts.hostname:
        raise PipelineError(
            f"--public-url {text}: give the https:// address coders open (e.g. "
            "https://coding.our-lab.org); coders' passwords and the families' videos must not "
            "cross the network unencrypted, so put a TLS reverse proxy in front (see README).")
    if parts.path.strip("/") or parts.query:
        raise PipelineError(
            f"--public-url {text}: give the address without a path (Label Studio must be at "
            "the root of its host name, e.g. https://coding.our-lab.org).")
    return PublicSite(url=f"https://{parts.netloc}", host=parts.hostname)


def resolve_public_url(study: Study, given: str | None) -> PublicSite | None:
    """--public-url (then kept in study.toml), else study.toml's, else None."""
    if given is None:
        stored = _setting(study, "public_url")
        return parse_public_url(stored) if stored else None
    site = parse_public_url(given)
    if _setting(study, "public_url") != site.url:
        set_label_studio_setting(study, "public_url", site.url)
    return site


def refuse_change_while_running(
    study: Study, database: str | None, public_url: str | None,
) -> None:
    """A running server keeps its database and public URL: changing them needs a stop first."""
    stored_db, stored_url = _setting(study, "database"), _setting(study, "public_url")
    if (database is not None and parse_database_url(database).url != stored_db) or (
            public_url is not None and parse_public_url(public_url).url != stored_url):
        raise PipelineError(
            f"The study's server is running: stop it first (`coding-pipeline server stop "
            f"{study.root}`) to change its database or public URL.")


def wsgi_command(host: str, port: int) -> list[str]:
    """The server process for a public URL: this module, which runs gunicorn."""
    return [sys.executable, "-m", "coding_pipeline.labelstudio.deploy", "--host", host,
            "--port", str(port)]


# ---------------------------------------------------------------- the server process


def _gunicorn(host: str, port: int) -> None:
    """Serve Label Studio's WSGI application with gunicorn (in this, already set-up, process)."""
    from django.core.wsgi import get_wsgi_application
    from django.db import connections
    from gunicorn.app.base import BaseApplication

    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    class Server(BaseApplication):
        def load_config(self) -> None:
            for key, value in {
                "bind": [bind], "workers": WSGI_WORKERS, "threads": WSGI_THREADS,
                "worker_class": "gthread", "timeout": WSGI_TIMEOUT_S, "graceful_timeout": 20,
                "preload_app": True, "errorlog": "-", "accesslog": None,
                "proc_name": "coding-pipeline-labelstudio",
            }.items():
                self.cfg.set(key, value)

        def load(self):
            application = get_wsgi_application()
            connections.close_all()  # each worker opens its own database connections
            return application

    Server().run()


def main(argv: list[str] | None = None) -> None:
    """Label Studio's own `start` (migrations, admin account, token), served by gunicorn."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    from label_studio import server as label_studio_server

    label_studio_server._app_run = _gunicorn  # instead of Django's development server
    sys.argv = ["label-studio", "start", "--no-browser", "--internal-host", args.host,
                "--port", str(args.port)]
    label_studio_server.main()


if __name__ == "__main__":
    main()
