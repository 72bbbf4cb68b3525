"""Two Haven nodes sharing PostgreSQL and Redis: alerts cross nodes and survive failures."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
from redis import asyncio as aioredis

from server.scale.relays import RELAYS_KEY
from tests.harness import TIMEOUT
from tests.scale.nodes import Cluster, Node, signal_message
from tests.store.services import PrivateRedis

FACILITATOR = "fac@example.org"


async def _polls_after(node: Node, count: int) -> None:
    """Wait until ``node`` has polled the database for alerts ``count`` more times."""
    async with aiohttp.ClientSession() as http:
        start = (await node.metrics(http))["haven_alert_polls_total"]
        deadline = time.monotonic() + 4 * TIMEOUT
        while (await node.metrics(http))["haven_alert_polls_total"] < start + count:
            assert time.monotonic() < deadline, "the node stopped polling"
            await asyncio.sleep(0.2)


async def _two_nodes(cluster: Cluster) -> tuple[Node, Node]:
    await cluster.seed_staff(FACILITATOR)
    return await asyncio.gather(cluster.start_node("a"), cluster.start_node("b"))


async def test_alert_raised_on_node_a_reaches_facilitator_on_node_b(cluster: Cluster) -> None:
    """A client on node A triggers; the facilitator on node B gets the alert, exactly once."""
    a, b = await _two_nodes(cluster)
    staff = await cluster.sign_in(b, FACILITATOR)
    status, session = await staff.call("POST", "/api/sessions", {"kind": "one_to_one"})
    assert status == 201, session
    console, inbox = await cluster.console(b, staff, session["id"])
    client, participant_id = await cluster.client(a, staff, session["id"])
    sent = time.monotonic()
    ack = await client.call("signal", signal_message("sig-nodes-1"), namespace="/client", timeout=5)
    assert ack == {"ok": True, "id": "sig-nodes-1", "duplicate": False}
    alert = await inbox.next("alert")
    latency = time.monotonic() - sent
    assert alert["participant_id"] == participant_id and alert["kind"] == "panic"
    assert latency < 1.5, f"the alert took {latency:.2f} s (pub/sub should carry it)"
    delivered = {"alert_id": alert["alert_id"]}
    ack = await console.call("alert_delivered", delivered, namespace="/console", timeout=5)
    assert ack["ok"], ack
    await _polls_after(b, 2)  # the database poll also saw it: the ledger must drop it
    assert len(inbox.items["alert"]) == 1
    assert [m["progress"] for m in inbox.items["alert_update"]] == ["delivered"]
    async with aiohttp.ClientSession() as http:
        metrics = await b.metrics(http)
    assert metrics["haven_alert_latency_seconds_count"] == 1
    assert metrics["haven_connected_consoles"] == 1 and metrics["haven_open_alerts"] == 1
    for node in (a, b):  # JSON lines only, and no display name in them
        lines = [line for line in node.log().splitlines() if line.startswith("{")]
        assert lines and all(json.loads(line)["correlation_id"] for line in lines)
        assert "Sam" not in node.log()


async def test_facilitator_reconnects_to_node_a_after_node_b_is_killed(cluster: Cluster) -> None:
    """Node B dies by SIGKILL with an alert open; on node A the console gets that alert."""
    a, b = await _two_nodes(cluster)
    staff = await cluster.sign_in(b, FACILITATOR)
    status, session = await staff.call("POST", "/api/sessions", {"kind": "one_to_one"})
    assert status == 201, session
    _, inbox = await cluster.console(b, staff, session["id"])
    client, participant_id = await cluster.client(a, staff, session["id"])
    ack = await client.call("signal", signal_message("sig-nodes-2"), namespace="/client", timeout=5)
    assert ack["ok"], ack
    first = await inbox.next("alert")
    registry = aioredis.Redis.from_url(cluster.redis_url)
    assert await registry.hlen(RELAYS_KEY) == 2  # each node's relay reports itself
    await b.kill()
    killed = time.monotonic()
    staff.base = a.base
    _, inbox_a = await cluster.console(a, staff, session["id"])
    replayed = await inbox_a.next("alert")
    assert replayed["alert_id"] == first["alert_id"]
    assert replayed["participant_id"] == participant_id and replayed["progress"] != "resolved"
    async with asyncio.timeout(10):  # node A notices node B's relay is gone within 10 s
        while await registry.hlen(RELAYS_KEY) != 1:  # noqa: ASYNC110
            await asyncio.sleep(0.2)
    assert time.monotonic() - killed < 10
    await registry.aclose()


async def test_alert_arrives_from_the_database_while_redis_is_down(
    cluster: Cluster, redis: PrivateRedis
) -> None:
    """With Redis stopped for 10 s, the alert still reaches node B, and nothing is duplicated."""
    a, b = await _two_nodes(cluster)
    staff = await cluster.sign_in(b, FACILITATOR)
    status, session = await staff.call("POST", "/api/sessions", {"kind": "one_to_one"})
    assert status == 201, session
    _, inbox = await cluster.console(b, staff, session["id"])
    client, _ = await cluster.client(a, staff, session["id"])
    redis.stop()
    down_at = time.monotonic()
    ack = await client.call("signal", signal_message("sig-nodes-3"), namespace="/client", timeout=5)
    assert ack["ok"], ack
    alert = await inbox.next("alert", timeout=3 * TIMEOUT)
    arrived = time.monotonic() - down_at
    assert arrived < 3.0, f"the database poll took {arrived:.2f} s"
    await asyncio.sleep(max(0.0, 10.0 - (time.monotonic() - down_at)))  # Redis down for 10 s
    redis.start()
    # An update made on node A after Redis is back travels both ways, and still arrives once.
    staff.base = a.base
    status, body = await staff.call("POST", f"/api/alerts/{alert['alert_id']}/acknowledge")
    assert status == 200, body
    update = await inbox.next("alert_update", timeout=3 * TIMEOUT)
    assert update["progress"] == "acknowledged"
    await _polls_after(b, 2)
    assert [m["alert_id"] for m in inbox.items["alert"]] == [alert["alert_id"]]
    assert [m["progress"] for m in inbox.items["alert_update"]] == ["acknowledged"]
