"""A real PostgreSQL for the tests and the registry benchmark: Debian's server binaries run as
the ``postgres`` user (``runuser``; the server refuses root) on a free port of 127.0.0.1, with
its data and socket dirs in a temp dir that goes away when it stops."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

START_TIMEOUT_S = 30.0


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Unavailable(RuntimeError):
    """No PostgreSQL server can be run here; the message says why."""


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise Unavailable("Debian postgresql is not installed (make test installs it)")
    if os.geteuid() != 0 or shutil.which("runuser") is None:
        raise Unavailable("running PostgreSQL as its own user needs root and runuser")
    return Path(found[-1]).parent


class PgServer:
    """``host``: the address it listens on; ``prefix``: the command its programs run under
    (``ip netns exec NS``: a server inside a network namespace, as on a fleet's host)."""

    def __init__(self, host: str = "127.0.0.1", prefix: tuple[str, ...] = ()) -> None:
        self.host = host
        self.prefix = prefix
        self.bin = _bin_dir()
        # under /tmp, whatever TMPDIR says: the postgres user must reach it (not so /root/...)
        self.dir = Path(tempfile.mkdtemp(prefix="speeddata-pg-", dir="/tmp"))
        shutil.chown(self.dir, "postgres", "postgres")
        self.port = free_tcp_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def _as_postgres(self, *argv: str) -> list[str]:
        return [*self.prefix, "runuser", "-u", "postgres", "--", *argv]

    def start(self) -> None:
        data = self.dir / "data"
        subprocess.run(
            self._as_postgres(str(self.bin / "initdb"), "-D", str(data), "-U", "postgres",
                              "-A", "trust", "--no-sync", "-E", "UTF8"),
            check=True, capture_output=True, cwd=self.dir,
        )  # fmt: skip
        with open(data / "pg_hba.conf", "a") as hba:  # initdb trusts loopback only
            hba.write(f"host all all {self.host}/32 trust\n")
        self.proc = subprocess.Popen(
            self._as_postgres(
                str(self.bin / "postgres"), "-D", str(data), "-p", str(self.port),
                "-k", str(self.dir), "-c", f"listen_addresses={self.host}", "-c", "fsync=off",
                "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                "-c", "max_connections=200",
            ),
            stdout=subprocess.DEVNULL, stderr=open(self.dir / "server.log", "wb"),  # noqa: SIM115
            cwd=self.dir,
        )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT_S
        while subprocess.run(
            [*self.prefix, str(self.bin / "pg_isready"), "-h", self.host, "-p", str(self.port)],
            capture_output=True,
        ).returncode:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                log = (self.dir / "server.log").read_text(errors="replace")[-2000:]
                self.stop()
                raise RuntimeError(f"PostgreSQL did not start:\n{log}")
            time.sleep(0.1)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@{self.host}:{self.port}/{database}"

    @contextmanager
    def database(self) -> Iterator[str]:
        """A new empty database for one test (dropped after it); yields its URL."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        admin = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            yield self.url(name)
        finally:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _server_pid(self) -> int | None:
        try:
            return int((self.dir / "data" / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            # the server itself, not runuser (which need not pass signals on): SIGINT is
            # PostgreSQL's fast shutdown, clients are cut off
            pid = self._server_pid()
            os.kill(pid, signal.SIGINT) if pid else self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                if pid:
                    os.kill(pid, signal.SIGKILL)
                self.proc.kill()
                self.proc.wait(5)
        shutil.rmtree(self.dir, ignore_errors=True)
