"""Configuration at the edge, and the ``haven`` command run as a real process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from server.config import Config, ConfigError

HAVEN = [sys.executable, "-m", "server"]


def test_config_reads_haven_variables() -> None:
    """HAVEN_* variables fill the frozen configuration."""
    config = Config.from_env(
        {
            "HAVEN_PORT": "9001",
            "HAVEN_ALLOWED_ORIGINS": "https://a.example",
            "HAVEN_ESCALATE_AFTER_S": "20",
            "HAVEN_DEMO": "off",
        }
    )
    assert (config.port, config.origins, config.escalate_after_s, config.demo) == (
        9001,
        ("https://a.example",),
        20.0,
        False,
    )


@pytest.mark.parametrize(
    ("environ", "setting"),
    [
        ({"HAVEN_PORT": "eighty"}, "HAVEN_PORT"),
        ({"HAVEN_PORT": "70000"}, "HAVEN_PORT"),
        ({"HAVEN_ALLOWED_ORIGINS": "*"}, "HAVEN_ALLOWED_ORIGINS"),
        ({"HAVEN_DATABASE_URL": "mysql://x"}, "HAVEN_DATABASE_URL"),
        ({"HAVEN_ICE_SERVERS": "not json"}, "HAVEN_ICE_SERVERS"),
        ({"HAVEN_ESCALATE_AFTER_S": "-1"}, "HAVEN_ESCALATE_AFTER_S"),
    ],
)
def test_bad_values_name_the_setting(environ: dict[str, str], setting: str) -> None:
    """A bad value fails at start with a message naming the setting."""
    with pytest.raises(ConfigError, match=setting):
        Config.from_env(environ)


def test_serve_refuses_bad_config_with_a_message(tmp_path: Path) -> None:
    """``haven serve`` with a bad setting exits 2 and names it."""
    result = subprocess.run(
        [*HAVEN, "serve", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        env={**os.environ, "HAVEN_PORT": "x"},
        timeout=30,
    )
    assert result.returncode == 2 and "HAVEN_PORT" in result.stderr


def test_first_start_prints_link_and_sigterm_stops_within_10s(tmp_path: Path) -> None:
    """With no configuration, serve creates the demo, prints a link, and stops on SIGTERM."""
    proc = subprocess.Popen(
        [*HAVEN, "serve", "--port", "0", "--data-dir", str(tmp_path / "d")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if "/signin/" in line:
            break
    assert any("/signin/" in line for line in lines), lines
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
    assert time.monotonic() - started < 10
    assert (tmp_path / "d" / "haven.sqlite3").exists()
    verify = subprocess.run(
        [*HAVEN, "audit", "verify", "--data-dir", str(tmp_path / "d")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert verify.returncode == 0, verify.stdout


def test_user_add_and_passwd(tmp_path: Path) -> None:
    """``haven user add`` creates an account (and its service); ``passwd`` changes it."""
    data = ["--data-dir", str(tmp_path)]
    add = subprocess.run(
        [
            *HAVEN,
            "user",
            "add",
            "--service",
            "north",
            "--role",
            "lead",
            "lead@north.example",
            *data,
        ],
        input="a long password\n",
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert add.returncode == 0, add.stderr
    again = subprocess.run(
        [
            *HAVEN,
            "user",
            "add",
            "--service",
            "north",
            "--role",
            "lead",
            "lead@north.example",
            *data,
        ],
        input="a long password\n",
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert again.returncode == 1 and "already exists" in again.stderr
    short = subprocess.run(
        [*HAVEN, "user", "passwd", "lead@north.example", *data],
        input="short\n",
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert short.returncode == 1 and "at least 10" in short.stderr
    ok = subprocess.run(
        [*HAVEN, "user", "passwd", "lead@north.example", *data],
        input="another long password\n",
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert ok.returncode == 0, ok.stderr
