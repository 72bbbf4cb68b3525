"""Real PostgreSQL and Redis for the tests: found running, started, or installed from Debian.

The shared services are the machine's own (PostgreSQL on 5432, Redis on 6379); tests that stop
or restart a service start a private one on another port instead, so nothing else is disturbed.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

PG_HOST = "127.0.0.1"
PG_PORT = 5432
PG_DATABASE = "test"
REDIS_PORT = 6379


def admin_url() -> str:
    """The URL of a database the tests may create schemas in (``HAVEN_TEST_POSTGRES_URL``)."""
    return os.environ.get(
        "HAVEN_TEST_POSTGRES_URL", f"postgresql://postgres@{PG_HOST}:{PG_PORT}/{PG_DATABASE}"
    )


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """Tell whether something accepts TCP connections on ``host:port``."""
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def free_port() -> int:
    """Return a port nothing listens on now (bound to port 0, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 30.0, *, open_: bool = True) -> None:
    """Wait until ``port`` accepts connections (or, with ``open_=False``, until it refuses)."""
    deadline = time.monotonic() + timeout
    while port_open(port) != open_:
        if time.monotonic() > deadline:
            state = "open" if open_ else "close"
            raise TimeoutError(f"Port {port} did not {state} within {timeout} s.")
        time.sleep(0.1)


def _apt_install(*packages: str) -> None:
    subprocess.run(["apt-get", "update", "-q"], check=True, timeout=600)
    subprocess.run(
        ["apt-get", "install", "-y", "-q", *packages],
        check=True,
        timeout=900,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )


def ensure_postgres() -> str:
    """Make sure the shared PostgreSQL answers (start or install it if not); return its URL."""
    if "HAVEN_TEST_POSTGRES_URL" in os.environ or port_open(PG_PORT):
        return admin_url()
    if not Path("/etc/postgresql").exists():
        _apt_install("postgresql")
    for version in sorted(os.listdir("/etc/postgresql")):
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"],
            check=False,
            timeout=120,
        )
    wait_for_port(PG_PORT)
    return admin_url()


def redis_server() -> str:
    """Return the path of redis-server, installing Debian's package if it is missing."""
    path = shutil.which("redis-server")
    if path is None:
        _apt_install("redis-server")
        path = shutil.which("redis-server") or "/usr/bin/redis-server"
    return path


def ensure_redis() -> str:
    """Make sure the shared Redis answers (start or install it if not); return its URL."""
    if not port_open(REDIS_PORT):
        Path("/var/lib/redis").mkdir(parents=True, exist_ok=True)
        Path("/var/log/redis").mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                redis_server(),
                "--daemonize",
                "yes",
                "--bind",
                "127.0.0.1",
                "-::1",
                "--port",
                str(REDIS_PORT),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                "/var/lib/redis",
                "--logfile",
                "/var/log/redis/ci.log",
            ],
            check=True,
            timeout=60,
        )
        wait_for_port(REDIS_PORT)
    return f"redis://127.0.0.1:{REDIS_PORT}/0"


class PrivateRedis:
    """A redis-server of the test's own, on its own port, that the test may stop and restart."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The server's URL."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start the server and wait until it answers."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [
                redis_server(),
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        """Stop the server (it keeps nothing) and wait until its port refuses connections."""
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None
        wait_for_port(self.port, open_=False)


class PrivatePostgres:
    """A throwaway PostgreSQL cluster (initdb) on its own port, for tests that restart it."""

    def __init__(self) -> None:
        self.port = free_port()
        # Not under pytest's temporary directory: the postgres user must be able to reach it.
        self.workdir = Path(tempfile.mkdtemp(prefix="haven-pg-"))
        self.datadir = self.workdir / "pgdata"
        self.bindir = _pg_bindir()

    @property
    def url(self) -> str:
        """The URL of its ``postgres`` database."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *argv: str) -> None:
        cmd = list(argv)
        if os.geteuid() == 0:  # initdb and pg_ctl refuse to run as root
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, timeout=120, capture_output=True)

    def create(self) -> None:
        """Create the cluster with trust authentication on localhost."""
        if os.geteuid() == 0:
            shutil.chown(self.workdir, "postgres", "postgres")
        self._as_postgres(
            str(self.bindir / "initdb"), "-D", str(self.datadir), "-U", "postgres", "-A", "trust"
        )

    def start(self) -> None:
        """Start the cluster and wait until it accepts connections."""
        self._as_postgres(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.datadir),
            "-l",
            str(self.workdir / "log"),
            "-o",
            f"-p {self.port} -k {self.workdir} -c listen_addresses=127.0.0.1 -c fsync=on",
            "-w",
            "start",
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        """Stop the cluster at once (fast shutdown: sessions are cut, as in a crash or failover)."""
        self._as_postgres(
            str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "fast", "-w", "stop"
        )

    def destroy(self) -> None:
        """Stop the cluster if it runs and delete its files."""
        if port_open(self.port):
            self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


def _pg_bindir() -> Path:
    if shutil.which("pg_ctlcluster") is None and not Path("/usr/lib/postgresql").exists():
        _apt_install("postgresql")
    versions = sorted(Path("/usr/lib/postgresql").iterdir(), key=lambda p: int(p.name))
    return versions[-1] / "bin"


def unique_name(prefix: str = "t") -> str:
    """Return a fresh lower-case identifier for a schema or database."""
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def with_search_path(url: str, schema: str) -> str:
    """Return ``url`` with the server setting ``search_path`` set to ``schema``."""
    return f"{url}{'&' if '?' in url else '?'}search_path={schema}"
