"""A real, throw-away PostgreSQL server for the team-deployment tests.

`initdb` in a temporary folder, `pg_ctl start` on a free port on 127.0.0.1 (its socket in that
folder too, so nothing of the machine's own PostgreSQL is touched), one database created.
PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg2

SERVER_USER = "postgres"
SUPERUSER = "reckon"


def postgres_bin() -> Path | None:
    """The folder of `initdb` and `pg_ctl`: on PATH, else Debian's /usr/lib/postgresql/N/bin."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    return None


def missing_reason() -> str | None:
    """Why the server cannot be started here, or None."""
    if postgres_bin() is None:
        return "PostgreSQL's initdb/pg_ctl are not installed (Debian: apt-get install postgresql)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError:
            return f"running as root and there is no {SERVER_USER!r} user to run PostgreSQL as"
    return None


@dataclass(frozen=True)
class PostgresServer:
    port: int
    database: str

    @property
    def dsn(self) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{self.database}"

    @property
    def url(self) -> str:
        """The database as RECKON_DAGSTER_POSTGRES_URL names it (SQLAlchemy, psycopg2)."""
        return self.dsn.replace("postgresql://", "postgresql+psycopg2://", 1)

    def query(self, sql: str) -> list[tuple]:
        with psycopg2.connect(self.dsn) as connection, connection.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchall()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def postgres_server(database: str) -> Iterator[PostgresServer]:
    """A running server holding an empty `database`; stopped and deleted on exit."""
    bin_dir = postgres_bin()
    assert bin_dir is not None, missing_reason()
    folder = Path(tempfile.mkdtemp(prefix="reckon-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        owner = pwd.getpwnam(SERVER_USER)
        os.chown(folder, owner.pw_uid, owner.pw_gid)
        as_user = ["runuser", "-u", SERVER_USER, "--"]
    data, port = folder / "data", _free_port()
    pg_ctl = [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data)]
    started = False
    try:
        subprocess.run(
            [*as_user, str(bin_dir / "initdb"), "-D", str(data), "-U", SUPERUSER,
             "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"],
            check=True, capture_output=True,
        )  # fmt: skip
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c fsync=off"
        subprocess.run(
            [*pg_ctl, "-l", str(folder / "server.log"), "-o", options, "-w", "-t", "120", "start"],
            check=True,
            capture_output=True,
        )
        started = True
        admin = psycopg2.connect(f"postgresql://{SUPERUSER}@127.0.0.1:{port}/postgres")
        admin.autocommit = True  # CREATE DATABASE runs outside a transaction
        try:
            with admin.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{database}"')
        finally:
            admin.close()
        yield PostgresServer(port, database)
    finally:
        if started:
            subprocess.run([*pg_ctl, "-m", "fast", "-w", "stop"], check=False, capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)
