"""Relay processes placed by signalling nodes: where sessions go, media meeting there, failover."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import socketio
from redis import asyncio as aioredis

from server.scale.relays import RelayInfo, RelayRegistry
from tests.harness import Inbox, MediaOffers, Staff, follow_renegotiation, open_media
from tests.relay.conftest import Browser, real_video_both_ways, wait_for
from tests.scale.nodes import Cluster, Node, signal_message

FACILITATOR = "fac@example.org"


async def _live_relays(redis_url: str, count: int) -> list[RelayInfo]:
    """Wait until ``count`` relays report themselves in the registry, and return them."""
    registry = RelayRegistry(aioredis.Redis.from_url(redis_url))
    try:
        async with asyncio.timeout(15):
            while len(live := await registry.live()) < count:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
        return live
    finally:
        await registry.close()


async def _signal_nodes(cluster: Cluster) -> tuple[Node, Node, Staff]:
    """Two signalling nodes (no relay of their own) and a facilitator signed in on B."""
    await cluster.seed_staff(FACILITATOR)
    a, b = await asyncio.gather(
        cluster.start_node("a", HAVEN_ROLE="signal"), cluster.start_node("b", HAVEN_ROLE="signal")
    )
    return a, b, await cluster.sign_in(b, FACILITATOR)


async def _new_session(staff: Staff) -> str:
    status, session = await staff.call("POST", "/api/sessions", {"kind": "one_to_one"})
    assert status == 201, session
    return str(session["id"])


async def _where(sio: socketio.AsyncClient, namespace: str, session_id: str = "") -> Any:
    payload = {"session_id": session_id} if session_id else {}
    ack = await sio.call("media", payload, namespace=namespace, timeout=5)
    assert ack["ok"], ack
    return ack["media"]


async def _browser(
    media: socketio.AsyncClient, session_id: str, member_id: str, *, send: bool
) -> Browser:
    """An aiortc peer on a media connection that offers as a page does."""
    browser = Browser(MediaOffers(media), session_id, member_id)
    follow_renegotiation(media, browser)
    if send:
        browser.add_media()
    browser.add_receivers(1)
    await browser.negotiate()
    return browser


async def test_a_client_on_a_and_the_facilitator_on_b_meet_on_the_sessions_relay(
    cluster: Cluster,
) -> None:
    """Two new sessions land on different relays; members on two nodes see each other on one."""
    relays = await asyncio.gather(cluster.start_relay("r1"), cluster.start_relay("r2"))
    a, b, staff = await _signal_nodes(cluster)
    by_id = {info.id: info for info in await _live_relays(cluster.redis_url, 2)}
    first, second = await _new_session(staff), await _new_session(staff)
    console, _ = await cluster.console(b, staff, first)
    placed = [await _where(console, "/console", s) for s in (first, second)]
    assert {p["relay"] for p in placed} == set(by_id)  # least loaded: one session on each
    client, pid = await cluster.client(a, staff, first)
    where = await _where(client, "/client")
    assert where["relay"] == placed[0]["relay"]
    assert where["url"] == by_id[where["relay"]].url in {r.base for r in relays}
    client_media = await open_media(a.base, client, "/client")
    console_media = await open_media(b.base, console, "/console", first)
    cluster.sockets += [client_media, console_media]
    me = await _browser(client_media, first, pid, send=True)
    them = await _browser(console_media, first, staff.user["id"], send=True)
    try:
        await real_video_both_ways(me, pid, them, staff.user["id"])
        stats = await console_media.call("stats", {}, namespace="/media", timeout=5)
        assert stats["ok"] and {pid, staff.user["id"]} <= set(stats["stats"])
        async with aiohttp.ClientSession() as http:
            async with http.get(b.base + "/metrics") as response:
                text = await response.text()
        for relay_id in by_id:  # every live relay's sessions and CPU, from the registry
            assert f'haven_relay_sessions{{relay="{relay_id}"}}' in text
            assert f'haven_relay_cpu_seconds_total{{relay="{relay_id}"}}' in text
    finally:
        await me.close()
        await them.close()


async def test_a_killed_relay_is_reported_and_a_paused_client_stays_paused_on_the_next(
    cluster: Cluster,
) -> None:
    """SIGKILL the session's relay: the facilitator hears within 10 s; the pause holds elsewhere."""
    doomed = await cluster.start_relay("r1")
    a, b, staff = await _signal_nodes(cluster)
    [doomed_info] = await _live_relays(cluster.redis_url, 1)
    session_id = await _new_session(staff)
    console, _ = await cluster.console(b, staff, session_id)
    told = Inbox(console, "/console", "relay_lost")
    client, pid = await cluster.client(a, staff, session_id)
    assert (await _where(client, "/client"))["relay"] == doomed_info.id
    before = await open_media(a.base, client, "/client")
    cluster.sockets.append(before)
    first = await _browser(before, session_id, pid, send=True)
    ack = await client.call("signal", signal_message("sig-relay-1"), namespace="/client", timeout=5)
    assert ack["ok"], ack
    # The next relay starts after the pause: it never heard the gate instruction, only the store
    # can tell it this client is paused.
    survivor = await cluster.start_relay("r2")
    await _live_relays(cluster.redis_url, 2)
    await doomed.kill()
    killed = time.monotonic()
    lost = await told.next("relay_lost", timeout=12)
    assert time.monotonic() - killed < 10.0
    assert lost == {"session_id": session_id, "relay": doomed_info.id}
    await first.close()

    where = await _where(client, "/client")  # the page asks again: a fresh placement
    assert where["relay"] != doomed_info.id and where["url"] == survivor.base
    after = await open_media(a.base, client, "/client")
    console_media = await open_media(b.base, console, "/console", session_id)
    cluster.sockets += [after, console_media]
    them = await _browser(console_media, session_id, staff.user["id"], send=True)
    me = await _browser(after, session_id, pid, send=True)
    try:
        await wait_for(lambda: bool(them.from_participant(pid)))
        from_client = them.from_participant(pid)
        start = time.monotonic()
        # Blank media flows in the client's place (the path works) and nothing real ever does.
        await wait_for(lambda: from_client["video"].packets_after(start + 1.0) > 0)
        assert from_client["video"].real_packets_after(0) == 0
        assert from_client["audio"].real_packets_after(0) == 0
        stats = await console_media.call("stats", {}, namespace="/media", timeout=5)
        assert stats["stats"][pid]["paused"] == 1.0
    finally:
        await me.close()
        await them.close()
