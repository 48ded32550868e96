"""A throwaway PostgreSQL cluster for tests: Debian's server (``make system`` installs it),
``initdb`` in a temporary folder, started on a free loopback port, stopped and deleted after.

PostgreSQL refuses to run as root, so when the tests run as root the server runs as the
``postgres`` user the Debian package creates (``runuser``). A missing server fails the tests
rather than skipping them: a skip would let the contract pass without PostgreSQL.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

__all__ = ["PostgresCluster", "free_port"]


class PostgresCluster:
    """A PostgreSQL cluster of its own in a temporary folder, on a free loopback port.

    Password login over TCP (so a wrong password can be tested).

    Args:
        durable: Keep PostgreSQL's durability settings; by default they are off (faster), since
            the cluster is thrown away, but then a :meth:`halt` loses the last commits.
    """

    USER, PASSWORD = "recsys", "s3cret-pw"

    def __init__(self, *, durable: bool = False) -> None:
        self.durable = durable
        self.bin = _server_binaries()
        self.folder = Path(tempfile.mkdtemp(prefix="recsys-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self._as: list[str] = []  # the command prefix that runs a server binary as a user it accepts
        self._owner: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                pytest.fail("tests run as root and there is no 'postgres' user to run the server: "
                            "install Debian's postgresql (make system)")
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
            self._owner = owner
            self._as = ["runuser", "-u", "postgres", "--"]
        self._databases = itertools.count()

    def start(self) -> PostgresCluster:
        pwfile = self.folder / "pw"
        pwfile.write_text(self.PASSWORD)
        if self._owner is not None:
            os.chown(pwfile, self._owner.pw_uid, self._owner.pw_gid)
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", self.USER, "--pwfile", str(pwfile),
                  "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8")
        self.resume()
        return self

    def resume(self) -> None:
        """Start the server (again) on the cluster's folder and port."""
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c max_connections=300"
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.folder / "log"),
                  "-o", options, "-w", "start")

    def halt(self) -> None:
        """Stop the server at once, as a crash or a lost network would (the files stay)."""
        if (self.data / "postmaster.pid").exists():
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def stop(self) -> None:
        """Stop the server and delete the cluster."""
        self.halt()
        shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, database: str = "postgres", password: str | None = None) -> str:
        return f"postgresql://{self.USER}:{password or self.PASSWORD}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """The URL of a new, empty database."""
        import psycopg

        name = f"store{next(self._databases)}"
        with psycopg.connect(self.url(), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def _run(self, *command: str) -> None:
        done = subprocess.run([*self._as, *command], capture_output=True, text=True)
        if done.returncode != 0:
            log = self.folder / "log"
            pytest.fail(f"{' '.join(command)} failed: {done.stderr.strip()}"
                        + (f"\n{log.read_text()}" if log.exists() else ""))


def _server_binaries() -> Path:
    """The folder of Debian's newest PostgreSQL server binaries, else wherever initdb is on PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    if on_path is None:
        pytest.fail("no PostgreSQL server found (initdb): install Debian's postgresql (make system)")
    return Path(on_path).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
