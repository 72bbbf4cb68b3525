"""Media tickets and roles: what lets a page into a relay, and what a deployment must configure."""

from __future__ import annotations

import pytest
import socketio

from server.config import Config, ConfigError
from server.errors import Unauthorized
from server.tickets import MediaTicket, sign_ticket, verify_ticket
from server.web.security import content_security_policy
from tests.harness import TIMEOUT, Haven

SECRET = "s" * 32
PG = "postgresql://haven@127.0.0.1/haven"
REDIS = "redis://127.0.0.1:6379/0"


def _ticket(**changes: object) -> MediaTicket:
    fields: dict[str, object] = {
        "member_id": "p_1",
        "role": "client",
        "session_id": "s_1",
        "relay_id": "relay-a",
        "expires_at": 1000.0,
    }
    fields.update(changes)
    return MediaTicket(**fields)  # type: ignore[arg-type]


def test_a_signed_ticket_lets_its_member_into_its_relay() -> None:
    """A genuine, fresh ticket for this relay comes back exactly as it was signed."""
    assert verify_ticket(SECRET, sign_ticket(SECRET, _ticket()), "relay-a", 999.0) == _ticket()


@pytest.mark.parametrize(
    ("token", "relay_id", "now", "message"),
    [
        (sign_ticket(SECRET, _ticket()), "relay-b", 999.0, "another relay"),
        (sign_ticket(SECRET, _ticket()), "relay-a", 1001.0, "expired"),
        (sign_ticket("t" * 32, _ticket()), "relay-a", 999.0, "not valid"),
        (sign_ticket(SECRET, _ticket()).replace(".", "x."), "relay-a", 999.0, "not valid"),
        ("garbage", "relay-a", 999.0, "not valid"),
        (None, "relay-a", 999.0, "not valid"),
        ("a" * 5000 + ".b", "relay-a", 999.0, "not valid"),
    ],
)
def test_a_wrong_ticket_is_refused_with_a_reason(
    token: object, relay_id: str, now: float, message: str
) -> None:
    """Forged, foreign, expired or malformed tickets are refused with a plain sentence."""
    with pytest.raises(Unauthorized, match=message):
        verify_ticket(SECRET, token, relay_id, now)


def test_roles_need_what_they_share() -> None:
    """Signal and relay roles need PostgreSQL, Redis and a long secret; a relay, page origins."""
    with pytest.raises(ConfigError, match="HAVEN_ROLE must be"):
        Config(role="media")
    with pytest.raises(ConfigError, match="HAVEN_REDIS_URL and HAVEN_DATABASE_URL"):
        Config(role="signal", cluster_secret=SECRET)
    with pytest.raises(ConfigError, match="HAVEN_CLUSTER_SECRET"):
        Config(role="signal", database_url=PG, redis_url=REDIS, cluster_secret="short")
    with pytest.raises(ConfigError, match="HAVEN_ALLOWED_ORIGINS"):
        Config(role="relay", database_url=PG, redis_url=REDIS, cluster_secret=SECRET)
    with pytest.raises(ConfigError, match="HAVEN_RELAY_ORIGINS"):
        Config(relay_origins=("*",))
    relay = Config(
        role="relay",
        database_url=PG,
        redis_url=REDIS,
        cluster_secret=SECRET,
        allowed_origins=("https://haven.example.org",),
        relay_url="https://relay1.example.org/",
    )
    assert relay.relay_base_url == "https://relay1.example.org"
    assert "s" * 32 not in repr(relay)  # the secret is never printed


def test_pages_may_connect_to_the_configured_relays_only() -> None:
    """connect-src names each relay origin (and its WebSocket form), nothing else."""
    csp = content_security_policy(Config(relay_origins=("https://relay1.example.org",)))
    assert "connect-src 'self' https://relay1.example.org wss://relay1.example.org;" in csp
    assert "connect-src 'self';" in content_security_policy(Config())


async def test_the_media_namespace_refuses_a_page_without_a_valid_ticket(haven: Haven) -> None:
    """No ticket, or a made-up one, and the media connection is refused."""
    for auth in ({}, {"ticket": sign_ticket(SECRET, _ticket(expires_at=2e9))}):
        sio = socketio.AsyncClient(reconnection=False)
        with pytest.raises(socketio.exceptions.ConnectionError):
            await sio.connect(
                haven.base,
                namespaces=["/media"],
                transports=["websocket"],
                auth=auth,
                wait_timeout=TIMEOUT,
            )
        await sio.disconnect()
