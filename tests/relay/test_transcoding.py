"""The transcoding fallback: a consumer that cannot take VP8 gets H.264, everyone else forwards."""

from __future__ import annotations

import threading
import time

import pytest

from server.relay import Relay
from server.relay.media import is_h264_keyframe

from .conftest import Browser, BrowserFactory, Room, Seen, wait_for

pytestmark = pytest.mark.timeout(90)

H264 = "video/H264"


def _transcode_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name.startswith("haven-transcode"))


def _video_codecs(sdp: str) -> set[str]:
    """Return the codec names the answer's video m-lines carry."""
    names: set[str] = set()
    for chunk in sdp.split("m=")[1:]:
        if chunk.startswith("video") and "a=sendonly" in chunk:
            for line in chunk.splitlines():
                if line.startswith("a=rtpmap:") and "rtx" not in line:
                    names.add(line.split(" ", 1)[1].split("/", 1)[0].upper())
    return names


async def _sees_real_video(
    viewer: Browser, source: str, count: int = 5, after: float = 0.0
) -> Seen:
    await wait_for(lambda: "video" in viewer.from_participant(source))
    seen = viewer.from_participant(source)["video"]
    await wait_for(lambda: seen.real_frames_after(after) >= count)
    return seen


async def test_h264_only_consumer_gets_transcoded_video_while_vp8_peers_forward(
    browsers: BrowserFactory, relay: Relay, room: Room
) -> None:
    """c (H.264 only) decodes a's and b's video; a and b stay on forwarding; gate and teardown."""
    a = await browsers("a")
    b = await browsers("b")
    await _sees_real_video(a, "b")
    assert relay.decoders() == 0  # nobody needs transcoding: nothing is decoded
    c = await browsers("c", video=False, receive=H264)
    for source in ("a", "b"):
        await _sees_real_video(c, source)
    await _sees_real_video(a, "b", after=time.monotonic())
    await _sees_real_video(b, "a", after=time.monotonic())
    assert _video_codecs(c.pc.remoteDescription.sdp) == {"H264"}
    assert _video_codecs(a.pc.remoteDescription.sdp) == {"VP8"}
    stats = relay.stats("s1")
    assert stats["c"]["transcoded_legs"] == 2
    assert stats["a"]["transcoded_legs"] == 0 and stats["b"]["transcoded_legs"] == 0
    assert relay.decoders() == 2  # one per VP8 source, for c only
    assert _transcode_threads() == 2

    relay.pause("a")
    paused_at = time.monotonic()
    seen = c.from_participant("a")["video"]
    await wait_for(lambda: seen.blank_frames_after(paused_at) >= 3)
    first_blank = seen.first_blank_seq(paused_at)
    assert first_blank is not None
    assert seen.real_packets_sent_after(first_blank) == 0  # nothing real after the gate
    settle = time.monotonic()
    await wait_for(lambda: seen.blank_frames_after(settle) >= 3)
    assert seen.real_frames_after(settle) == 0  # decoded: black, not a frozen picture
    await _sees_real_video(c, "b", after=settle)  # the other transcoded leg is undisturbed
    assert b.from_participant("a")["video"].real_frames_after(settle) == 0

    relay.resume("a")
    await _sees_real_video(c, "a", after=time.monotonic())
    await _sees_real_video(b, "a", after=time.monotonic())

    room.browsers.pop("c")
    await relay.remove("c")
    await c.close()
    assert relay.decoders() == 0
    await wait_for(lambda: _transcode_threads() == 0)
    await _sees_real_video(a, "b", after=time.monotonic())


async def test_one_decoder_serves_every_consumer_of_the_same_codec(
    browsers: BrowserFactory, relay: Relay, room: Room
) -> None:
    """Two H.264 consumers of one VP8 source share one decoder, torn down when the last leaves."""
    await browsers("a")
    c = await browsers("c", video=False, receive=H264)
    d = await browsers("d", video=False, receive=H264)
    await _sees_real_video(c, "a")
    await _sees_real_video(d, "a")
    assert relay.decoders() == 1 and _transcode_threads() == 1
    assert relay.stats("s1")["d"]["transcoded_legs"] == 1
    assert relay.stats("s1")["a"]["transcoded_legs"] == 0
    for pid in ("c", "d"):
        browser = room.browsers.pop(pid)
        await relay.remove(pid)
        await browser.close()
        if pid == "c":
            assert relay.decoders() == 1
            await _sees_real_video(d, "a", after=time.monotonic())
    assert relay.decoders() == 0
    await wait_for(lambda: _transcode_threads() == 0)


async def test_paused_h264_consumer_receives_nothing(
    browsers: BrowserFactory, relay: Relay, room: Room
) -> None:
    """No packet reaches a paused transcoded consumer; on resume its video returns."""
    a = await browsers("a")
    c = await browsers("c", video=False, receive=H264)
    await _sees_real_video(c, "a")
    relay.pause("c")
    paused_at = time.monotonic()
    clock = a.from_participant("c")["audio"]  # c's silence reaching a measures time

    def silence_after(t: float) -> int:
        return sum(1 for at, real in clock.packets if at > t and not real)

    await wait_for(lambda: silence_after(paused_at) >= 10)
    # Anything sent to c before the pause has landed by now; from here c must get nothing.
    counts = [len(s.packets) for s in c.seen.values()]
    settled = time.monotonic()
    await wait_for(lambda: silence_after(settled) >= 15)
    assert [len(s.packets) for s in c.seen.values()] == counts
    relay.resume("c")
    await _sees_real_video(c, "a", after=time.monotonic())


async def test_keyframe_request_from_h264_consumer_forces_one_and_goes_upstream(
    browsers: BrowserFactory, room: Room
) -> None:
    """A PLI from the H.264 consumer yields an H.264 keyframe and a PLI to the VP8 source."""
    a = await browsers("a")
    c = await browsers("c", video=False, receive=H264)
    seen = await _sees_real_video(c, "a")
    receiver = next(
        t.receiver
        for t in c.pc.getTransceivers()
        if t.mid is not None and c.seen.get(t.mid) is seen
    )
    await wait_for(lambda: len(seen.raw) > 30)
    a.pli_received.clear()
    count = len(seen.raw)
    await receiver._send_rtcp_pli(seen.ssrc)
    await wait_for(a.pli_received.is_set, timeout=2)
    await wait_for(
        lambda: any(is_h264_keyframe(head) for _, _, head in seen.raw[count:]), timeout=2
    )
