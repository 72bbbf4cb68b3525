"""Configuration, read once at the edge into one frozen object."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROLES = ("all", "signal", "relay")
MIN_SECRET = 32


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the setting."""


@dataclass(frozen=True)
class Config:
    """Every setting of a Haven process; build it with ``Config.from_env`` or directly in tests."""

    host: str = "127.0.0.1"
    """Interface to listen on."""
    port: int = 8080
    """TCP port to listen on (0 picks a free one)."""
    data_dir: Path = Path("haven-data")
    """Directory holding the SQLite database, the audit key and the last checkpoint."""
    database_url: str = field(default="", repr=False)
    """Empty for the embedded SQLite store in ``data_dir``; ``postgresql://...`` for PostgreSQL."""
    redis_url: str = field(default="", repr=False)
    """Empty for one node; ``redis://...`` to share socket.io rooms between several nodes."""
    role: str = "all"
    """``all`` (signalling and its own relay), ``signal`` (no relay) or ``relay`` (media only)."""
    cluster_secret: str = field(default="", repr=False)
    """Key signing media tickets between signalling nodes and relays (``signal``/``relay``)."""
    relay_url: str = ""
    """Address browsers reach this relay at (``relay`` role); defaults to the public URL."""
    relay_origins: tuple[str, ...] = ()
    """Origins of the relay processes pages may connect to (CSP connect-src on signal nodes)."""
    alert_poll_s: float = 1.0
    """With Redis, how often each node polls the database for alerts pub/sub may have dropped."""
    log_format: str = "text"
    """``text`` for people, ``json`` for one JSON object per line with a correlation id."""
    public_url: str = ""
    """Address users reach Haven at, for sign-in and invite links; defaults to http://host:port."""
    allowed_origins: tuple[str, ...] = ()
    """Origins allowed to open socket.io connections and post forms (default: public_url's)."""
    frame_ancestors: tuple[str, ...] = ()
    """Origins allowed to frame Haven's pages (CSP frame-ancestors); none by default."""
    invite_ttl_hours: float = 72.0
    """How long an invite link stays valid."""
    idle_timeout_s: float = 30 * 60
    """A signed-in console is signed out after this much inactivity."""
    absolute_timeout_s: float = 12 * 3600
    """A signed-in console is signed out this long after signing in, whatever its activity."""
    escalate_after_s: float = 15.0
    """An alert no person has acknowledged after this long escalates to the leads and webhook."""
    webhook_timeout_s: float = 10.0
    """How long a webhook receiver has to answer one delivery attempt."""
    webhook_retry_base_s: float = 5.0
    """Delay before a failed webhook's first retry; each later retry waits twice as long."""
    webhook_retry_max_s: float = 3600.0
    """Longest wait between two attempts at one webhook."""
    webhook_give_up_after_s: float = 24 * 3600.0
    """A webhook not delivered this long after it was queued is given up."""
    webhook_poll_s: float = 1.0
    """How often the sender looks for due webhooks besides being woken by a new one."""
    checkpoint_every: int = 100
    """Write an HMAC checkpoint of the event log's head every this many events."""
    retention_days: int = 30
    """Days after a session ends before names, safety plans and safe words are deleted."""
    max_message_bytes: int = 64 * 1024
    """Largest socket.io message or HTTP body accepted."""
    max_peers: int = 50
    """Largest number of peer connections this node's relay accepts."""
    ice_servers: tuple[dict[str, Any], ...] = ()
    """STUN/TURN servers handed to browsers and used by the relay (JSON list in the environment)."""
    turn_secret: str = field(default="", repr=False)
    """Shared secret with coturn (``use-auth-secret``) for time-limited TURN credentials."""
    allow_private_ice: bool = True
    """Accept ICE candidates on private addresses (needed on one machine; off in production)."""
    demo: bool = True
    """On first start, create a demo service with a facilitator and print a sign-in link."""
    log_level: str = "INFO"
    """Logging level of the entry point."""
    speech_bank: Path = Path("~/.cache/haven/speech-bank")
    """Where the speech banks for calibrating spoken safe phrases are generated and kept."""
    test_fault: str = ""
    """Fault injection for the test suite only (``kill_after_commit``); never set in production."""

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"HAVEN_PORT must be between 0 and 65535, not {self.port}.")
        for name in (
            "invite_ttl_hours",
            "idle_timeout_s",
            "absolute_timeout_s",
            "escalate_after_s",
            "alert_poll_s",
            "webhook_timeout_s",
            "webhook_retry_base_s",
            "webhook_retry_max_s",
            "webhook_give_up_after_s",
            "webhook_poll_s",
        ):
            if getattr(self, name) <= 0:
                raise ConfigError(f"HAVEN_{name.upper()} must be a positive number.")
        if self.checkpoint_every < 1:
            raise ConfigError("HAVEN_CHECKPOINT_EVERY must be at least 1.")
        if self.retention_days < 1:
            raise ConfigError("HAVEN_RETENTION_DAYS must be at least 1.")
        if self.max_message_bytes < 1024:
            raise ConfigError("HAVEN_MAX_MESSAGE_BYTES must be at least 1024.")
        if self.max_peers < 2:
            raise ConfigError("HAVEN_MAX_PEERS must be at least 2.")
        if self.database_url and not self.database_url.startswith(("postgresql://", "postgres://")):
            raise ConfigError("HAVEN_DATABASE_URL must be empty (SQLite) or a postgresql:// URL.")
        if self.redis_url and not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError("HAVEN_REDIS_URL must be empty (one node) or a redis:// URL.")
        if self.alert_poll_s > 2:
            raise ConfigError("HAVEN_ALERT_POLL_S must be at most 2 seconds.")
        if self.log_format not in ("text", "json"):
            raise ConfigError("HAVEN_LOG_FORMAT must be text or json.")
        if self.public_url and urlsplit(self.public_url).scheme not in ("http", "https"):
            raise ConfigError("HAVEN_PUBLIC_URL must start with http:// or https://.")
        for origin in (*self.allowed_origins, *self.frame_ancestors):
            if origin == "*" or not re.fullmatch(r"https?://[^/\s]+", origin):
                raise ConfigError(
                    f"HAVEN_ALLOWED_ORIGINS and HAVEN_FRAME_ANCESTORS take origins like "
                    f"https://example.org (never '*'), not {origin!r}."
                )
        self._check_role()
        if self.test_fault not in ("", "kill_after_commit"):
            raise ConfigError(
                "HAVEN_TEST_FAULT is for the test suite only: empty or kill_after_commit."
            )
        if self.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ConfigError("HAVEN_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR.")

    def _check_role(self) -> None:
        if self.role not in ROLES:
            raise ConfigError("HAVEN_ROLE must be all, signal or relay.")
        for origin in self.relay_origins:
            if not re.fullmatch(r"https?://[^/\s]+", origin):
                raise ConfigError(
                    f"HAVEN_RELAY_ORIGINS takes origins like https://relay1.example.org, "
                    f"not {origin!r}."
                )
        if self.relay_url and urlsplit(self.relay_url).scheme not in ("http", "https"):
            raise ConfigError("HAVEN_RELAY_URL must start with http:// or https://.")
        if self.role == "all":
            return
        if not self.redis_url or not self.database_url:
            raise ConfigError(
                f"HAVEN_ROLE={self.role} needs HAVEN_REDIS_URL and HAVEN_DATABASE_URL: "
                "signalling nodes and relays share PostgreSQL and Redis."
            )
        if len(self.cluster_secret) < MIN_SECRET:
            raise ConfigError(
                f"HAVEN_ROLE={self.role} needs HAVEN_CLUSTER_SECRET, the same random value "
                f"of at least {MIN_SECRET} characters on every signalling node and relay."
            )
        if self.role == "relay" and not self.allowed_origins:
            raise ConfigError(
                "HAVEN_ROLE=relay needs HAVEN_ALLOWED_ORIGINS: the origin(s) of the pages "
                "(the signalling nodes' public address), never '*'."
            )

    @property
    def relay_base_url(self) -> str:
        """The address browsers reach this process's relay at, without a trailing slash."""
        return self.relay_url.rstrip("/") if self.relay_url else self.base_url

    @property
    def base_url(self) -> str:
        """The address users reach Haven at, without a trailing slash."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host  # noqa: S104
        return f"http://{host}:{self.port}"

    @property
    def origins(self) -> tuple[str, ...]:
        """Origins allowed to talk to this server from a browser."""
        if self.allowed_origins:
            return self.allowed_origins
        base = urlsplit(self.base_url)
        own = f"{base.scheme}://{base.netloc}"
        if base.hostname in ("127.0.0.1", "localhost"):
            port = f":{base.port}" if base.port else ""
            return (own, f"{base.scheme}://localhost{port}", f"{base.scheme}://127.0.0.1{port}")
        return (own,)

    @property
    def secure_cookies(self) -> bool:
        """Whether cookies carry the Secure flag (whenever Haven is served over HTTPS)."""
        return self.base_url.startswith("https://")

    @classmethod
    def from_env(cls, environ: Mapping[str, str], **overrides: Any) -> Config:
        """Build the configuration from ``HAVEN_*`` variables, then apply explicit overrides."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = environ.get(f"HAVEN_{f.name.upper()}")
            if raw is not None and raw != "":
                values[f.name] = _parse(f.name, str(f.type), raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def _parse(name: str, kind: str, raw: str) -> Any:
    setting = f"HAVEN_{name.upper()}"
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "bool":
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if kind == "Path":
            return Path(raw)
        if kind == "tuple[str, ...]":
            return tuple(part.strip() for part in raw.split(",") if part.strip())
        if kind.startswith("tuple[dict"):
            servers = json.loads(raw)
            if not isinstance(servers, list) or not all(
                isinstance(s, dict) and "urls" in s for s in servers
            ):
                raise ValueError(raw)
            return tuple(servers)
    except ValueError:
        raise ConfigError(f"{setting} has an invalid value for a {kind} setting.") from None
    return raw
