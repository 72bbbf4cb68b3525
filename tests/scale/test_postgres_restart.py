"""PostgreSQL restarted under a live node: refusals while it is down, one record afterwards."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.scale.nodes import Cluster, signal_message
from tests.store.services import PrivatePostgres

FACILITATOR = "fac@example.org"


@pytest.fixture(scope="module")
def private_postgres() -> Iterator[PrivatePostgres]:
    """A throwaway PostgreSQL cluster on its own port, so restarting it disturbs nobody."""
    server = PrivatePostgres()
    try:
        server.create()
        server.start()
        yield server
    finally:
        server.destroy()


@pytest.fixture
async def lone_node_cluster(
    private_postgres: PrivatePostgres, tmp_path: Path
) -> AsyncIterator[Cluster]:
    """One node's worth of cluster on the private PostgreSQL, without Redis."""
    cluster = Cluster(tmp_path, private_postgres.url)
    try:
        yield cluster
    finally:
        await cluster.close()


async def _retry_until_ok(client: Any, message: dict[str, str]) -> list[dict[str, Any]]:
    """Send the same signal every 0.3 s, as the page does, until it is acknowledged."""
    acks: list[dict[str, Any]] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            ack = await client.call("signal", message, namespace="/client", timeout=5)
        except TimeoutError:
            ack = {"ok": False, "code": "timeout"}
        acks.append(ack)
        if ack.get("ok"):
            return acks
        await asyncio.sleep(0.3)
    raise AssertionError(f"never acknowledged: {acks[-3:]}")


async def test_signals_are_refused_while_postgres_is_down_then_recorded_once(
    private_postgres: PrivatePostgres, lone_node_cluster: Cluster
) -> None:
    """While PostgreSQL restarts the node answers 'unavailable'; the retried signal lands once."""
    cluster = lone_node_cluster
    await cluster.seed_staff(FACILITATOR)
    node = await cluster.start_node("a")
    staff = await cluster.sign_in(node, FACILITATOR)
    status, session = await staff.call("POST", "/api/sessions", {"kind": "one_to_one"})
    assert status == 201, session
    client, participant_id = await cluster.client(node, staff, session["id"])
    message = signal_message("sig-pg-restart")

    private_postgres.stop()
    down = await client.call("signal", message, namespace="/client", timeout=5)
    assert down["ok"] is False and down["code"] == "unavailable", down
    retries = asyncio.create_task(_retry_until_ok(client, message))
    await asyncio.sleep(2.0)  # PostgreSQL stays down for a while, the page keeps trying
    assert not retries.done()
    await asyncio.to_thread(private_postgres.start)
    acks = await asyncio.wait_for(retries, 60)

    assert all(a["code"] == "unavailable" for a in acks[:-1]), acks
    assert acks[-1]["ok"] is True and acks[-1]["id"] == "sig-pg-restart"
    again = await client.call("signal", message, namespace="/client", timeout=5)
    assert again == {"ok": True, "id": "sig-pg-restart", "duplicate": True}
    conn = await asyncpg.connect(private_postgres.url)
    try:
        rows = await conn.fetchval(
            "SELECT count(*) FROM signals WHERE subject_id = $1 AND signal_id = $2",
            participant_id,
            "sig-pg-restart",
        )
        raised = await conn.fetchval(
            "SELECT count(*) FROM events WHERE type = 'alert.raised' AND session_id = $1",
            session["id"],
        )
    finally:
        await conn.close()
    assert (rows, raised) == (1, 1)
