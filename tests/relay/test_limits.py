"""Bad input, caps, timeouts and clean shutdown of the relay."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from typing import cast

import aioice
import av
import pytest
from aioice import stun
from aioice.ice import StunProtocol
from aiortc import RTCPeerConnection, RTCRtpSender

from server.relay import Relay, RelayError, RelaySettings
from server.relay.aiortc_hooks import filter_connection_checks
from server.relay.sdp_filter import is_public_address

from .conftest import BrightTrack, Browser, BrowserFactory, Room, ToneTrack, wait_for

pytestmark = pytest.mark.timeout(60)


async def _offer(video: bool = True, audio: bool = True, codecs: str | None = None) -> str:
    """Return an aiortc offer (sendonly media), optionally restricted to one video codec."""
    pc = RTCPeerConnection()
    if audio:
        pc.addTransceiver("audio", direction="sendonly")
    if video:
        t = pc.addTransceiver("video", direction="sendonly")
        if codecs:
            caps = RTCRtpSender.getCapabilities("video").codecs
            t.setCodecPreferences([c for c in caps if c.mimeType == codecs])
    await pc.setLocalDescription(await pc.createOffer())
    sdp = pc.localDescription.sdp
    await pc.close()
    return sdp


async def test_oversized_sdp_is_refused(relay: Relay) -> None:
    """An offer above max_sdp_bytes is refused with a RelayError."""
    sdp = await _offer()
    with pytest.raises(RelayError, match="larger"):
        await relay.offer("s1", "a", sdp + "a=x-padding:" + "x" * 70000 + "\r\n")


async def test_hundreds_of_m_lines_are_refused(relay: Relay) -> None:
    """An offer with hundreds of media sections is refused."""
    sdp = await _offer(video=False)
    head, _, media = sdp.partition("m=audio")
    many = head + "".join(
        "m=audio" + media.replace("a=mid:0", f"a=mid:{i}") for i in range(300)
    )
    with pytest.raises(RelayError, match="media sections"):
        await relay.offer("s1", "a", many[:60000])


async def test_unsupported_codec_is_refused(relay: Relay) -> None:
    """An offer that sends H.264-only video is refused: every source must send VP8 + Opus."""
    with pytest.raises(RelayError, match="VP8"):
        await relay.offer("s1", "a", await _offer(codecs="video/H264"))
    assert relay.stats("s1") == {}


async def test_garbage_and_duplicate_tracks_are_refused(relay: Relay) -> None:
    """Non-SDP text and an offer sending two video tracks are refused."""
    with pytest.raises(RelayError):
        await relay.offer("s1", "a", "hello")
    sdp = await _offer(audio=False)
    head, _, media = sdp.partition("m=video")
    twice = head + "m=video" + media + "m=video" + media.replace("a=mid:0", "a=mid:1")
    with pytest.raises(RelayError, match="at most one video"):
        await relay.offer("s1", "a", twice)


async def test_offers_in_the_wrong_state_are_refused(relay: Relay) -> None:
    """A concurrent second offer, another session's participant and a closed relay refuse."""
    first, second = await _offer(), await _offer()
    results = await asyncio.gather(
        relay.offer("s1", "a", first), relay.offer("s1", "a", second), return_exceptions=True
    )
    assert sum(isinstance(r, RelayError) for r in results) == 1
    with pytest.raises(RelayError, match="another session"):
        await relay.offer("s2", "a", await _offer())
    await relay.close()
    with pytest.raises(RelayError, match="shutting down"):
        await relay.offer("s1", "b", await _offer())


async def test_session_and_node_caps_are_enforced(relay: Relay) -> None:
    """The per-session cap and the per-node cap refuse extra participants with a message."""
    for i in range(4):
        await relay.offer("s1", f"p{i}", await _offer())
    with pytest.raises(RelayError, match="session already has"):
        await relay.offer("s1", "p4", await _offer())
    await relay.offer("s2", "q0", await _offer())
    await relay.offer("s2", "q1", await _offer())
    with pytest.raises(RelayError, match="full"):
        await relay.offer("s3", "r0", await _offer())
    await relay.end_session("s1")
    await relay.offer("s3", "r0", await _offer())


async def test_unconnected_peer_is_freed_after_the_connect_timeout(room: Room) -> None:
    """A peer that never completes ICE/DTLS is removed and reported failed."""
    relay = Relay(RelaySettings(connect_timeout=1.0), on_peer_state=room.on_peer_state)
    try:
        await relay.offer("s1", "a", await _offer())
        assert set(relay.stats("s1")) == {"a"}
        await wait_for(lambda: relay.stats("s1") == {}, timeout=3)
        await wait_for(lambda: ("a", "failed") in room.states, timeout=3)
    finally:
        await relay.close()


async def test_bad_input_does_not_disturb_the_session(
    browsers: BrowserFactory, relay: Relay, room: Room
) -> None:
    """A refused offer from a third participant leaves a and b's media flowing."""
    a = await browsers("a")
    await browsers("b")
    await wait_for(lambda: len(a.from_participant("b")) == 2)
    with pytest.raises(RelayError):
        await relay.offer("s1", "c", await _offer(codecs="video/H264"))
    seen = a.from_participant("b")["video"]
    count = len(seen.packets)
    await wait_for(lambda: len(seen.packets) > count + 10)


def _threads() -> set[str]:
    """Name the live threads, leaving out the loop's executor that the test peers encode in."""
    return {t.name for t in threading.enumerate() if not t.name.startswith("asyncio_")}


def _sockets() -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
    return count


async def test_close_is_idempotent_and_leaves_nothing_behind() -> None:
    """After end_session and close (twice), no task, thread or socket of the relay remains.

    A third participant receives H.264 only, so a transcoder (task + worker thread) runs too.
    """
    tasks = len(asyncio.all_tasks())
    threads = _threads()
    sockets = _sockets()
    relay = Relay(RelaySettings())
    browsers = []
    for pid in "ab":
        b = Browser(relay, "s1", pid)
        b.add_media()
        b.add_receivers(1)
        await b.negotiate()
        browsers.append(b)
    await browsers[0].negotiate()
    await wait_for(lambda: all(len(b.receiving()) == 2 for b in browsers))
    await wait_for(lambda: all(s.packets for b in browsers for s in b.receiving()))
    h264 = Browser(relay, "s1", "c", receive="video/H264")
    h264.add_media(video=False)
    h264.add_receivers(2)
    await h264.negotiate()
    browsers.append(h264)
    await wait_for(lambda: len(h264.receiving()) == 4)
    await wait_for(lambda: all(s.packets for s in h264.receiving()))
    assert relay.decoders() == 2
    relay.pause("a")
    await relay.end_session("s1")
    await relay.end_session("s1")
    await relay.close()
    await relay.close()
    assert relay.decoders() == 0
    for b in browsers:
        await b.close()
    await wait_for(lambda: len(asyncio.all_tasks()) <= tasks, timeout=5)
    await wait_for(lambda: _threads() <= threads, timeout=5)
    await wait_for(lambda: _sockets() <= sockets, timeout=5)


class NoiseTrack(BrightTrack):
    """Random pictures: the encoder cannot go below a few hundred kbit/s."""

    async def recv(self) -> av.VideoFrame:
        frame = await super().recv()
        frame.planes[0].update(os.urandom(frame.planes[0].buffer_size))
        return frame


async def test_a_source_far_above_its_bitrate_is_policed(room: Room) -> None:
    """Video beyond twice the configured cap is dropped; the consumer still hears the source."""
    relay = Relay(
        RelaySettings(max_bitrate_bps=40_000),
        on_renegotiate=room.on_renegotiate,
    )
    try:
        a = Browser(relay, "s1", "a")
        a.pc.addTransceiver(ToneTrack(), direction="sendonly")
        a.pc.addTransceiver(NoiseTrack(), direction="sendonly")
        b = Browser(relay, "s1", "b")
        b.add_media(video=False)
        room.browsers.update(a=a, b=b)
        for peer in (a, b):
            peer.add_receivers(1)
            await peer.negotiate()
        await wait_for(lambda: relay._peers["a"].endpoint.packets_dropped > 20)
        audio = b.from_participant("a")["audio"]
        count = len(audio.packets)
        await wait_for(lambda: len(audio.packets) > count + 10)
    finally:
        for peer in room.browsers.values():
            await peer.close()
        await relay.close()


class _StubProtocol:
    """Stands in for aioice's socket protocol and records what would be sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[object, tuple[str, int]]] = []

    def send_stun(self, message: object, addr: tuple[str, int]) -> None:
        self.sent.append((message, addr))


def test_ice_checks_from_private_addresses_are_ignored() -> None:
    """A check from a loopback/private/link-local host gets no answer and no prflx candidate."""
    connection = aioice.Connection(ice_controlling=False)
    filter_connection_checks(connection, is_public_address)
    filter_connection_checks(connection, is_public_address)  # idempotent: wrapped once
    protocol = _StubProtocol()
    stun_protocol = cast(StunProtocol, protocol)
    check = stun.Message(message_method=stun.Method.BINDING, message_class=stun.Class.REQUEST)
    for host in ("127.0.0.1", "10.1.2.3", "192.168.0.9", "169.254.1.1", "fe80::1", "::1"):
        connection.request_received(check, (host, 5000), stun_protocol)
    assert protocol.sent == []
    assert connection.remote_candidates == []
    # A public source reaches aioice, which answers this unauthenticated check with an error.
    connection.request_received(check, ("8.8.4.4", 5000), stun_protocol)
    assert [addr for _, addr in protocol.sent] == [("8.8.4.4", 5000)]


async def test_client_with_only_private_candidates_never_connects_when_they_are_refused(
    room: Room,
) -> None:
    """With allow_private_candidates=False a loopback-only client is not connected, then freed."""
    relay = Relay(
        RelaySettings(allow_private_candidates=False, connect_timeout=2),
        on_peer_state=room.on_peer_state,
    )
    b = Browser(relay, "s1", "a")
    try:
        b.add_media()
        await b.negotiate()
        await wait_for(lambda: ("a", "failed") in room.states, timeout=4)
        assert ("a", "connected") not in room.states
        assert relay.stats("s1") == {}
    finally:
        await b.close()
        await relay.close()
