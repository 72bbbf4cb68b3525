"""Media through the relay between aiortc peers: 1:1, groups, the pause gate, keyframes."""

from __future__ import annotations

import logging
import time

import pytest

from server.relay import Relay

from .conftest import Browser, BrowserFactory, Room, Seen, wait_for

pytestmark = pytest.mark.timeout(60)


async def _all_see_each_other(room: Room, min_frames: int = 5, after: float = 0.0) -> None:
    for pid, me in room.browsers.items():
        for other in room.browsers:
            if other == pid:
                continue

            def has_both(me: Browser = me, other: str = other) -> bool:
                return len(me.from_participant(other)) == 2

            await wait_for(has_both)
            tracks = me.from_participant(other)

            def all_real(t: dict[str, Seen] = tracks) -> bool:
                return all(s.real_frames_after(after) >= min_frames for s in t.values())

            await wait_for(all_real)


async def test_one_to_one_media_flows_both_ways(
    browsers: BrowserFactory, relay: Relay, room: Room
) -> None:
    """Each of two participants decodes the other's real audio and video."""
    await browsers("a")
    await browsers("b")
    await _all_see_each_other(room)
    assert "a" in room.renegotiations  # a was asked to re-offer to receive b's tracks
    stats = relay.stats("s1")
    assert set(stats) == {"a", "b"}
    assert stats["a"]["bitrate_in_bps"] > 0 and stats["a"]["bitrate_out_bps"] > 0
    assert 0.0 <= stats["a"]["packet_loss"] <= 1.0
    await wait_for(lambda: relay.stats("s1")["b"]["rtt_ms"] >= 0)  # from b's receiver reports


async def test_group_of_three_all_see_and_hear_each_other(
    browsers: BrowserFactory, room: Room
) -> None:
    """In a 3-person group every participant decodes both others' audio and video."""
    for pid in "abc":
        await browsers(pid)
    await _all_see_each_other(room)


async def test_pause_cuts_media_both_ways_and_resume_restores_it(
    browsers: BrowserFactory, relay: Relay, room: Room, caplog: pytest.LogCaptureFixture
) -> None:
    """Pause: nothing real to or from b, others get black/silence; resume: clean real media."""
    caplog.set_level(logging.WARNING)
    for pid in "abc":
        await browsers(pid)
    await _all_see_each_other(room)
    a, b, c = (room.browsers[p] for p in "abc")

    relay.pause("b")
    paused_at = time.monotonic()
    assert relay.is_paused("b")
    for viewer in (a, c):
        tracks = viewer.from_participant("b")

        def all_blank(t: dict[str, Seen] = tracks) -> bool:
            return all(s.blank_frames_after(paused_at) >= 3 for s in t.values())

        await wait_for(all_blank)
    # Anything b was sent before the pause has landed by now; from here b must get nothing.
    b_counts = [len(s.packets) for s in b.seen.values()]
    await wait_for(lambda: a.from_participant("c")["video"].real_frames_after(paused_at) >= 10)
    assert [len(s.packets) for s in b.seen.values()] == b_counts
    for viewer in (a, c):
        for seen in viewer.from_participant("b").values():
            first_blank = seen.first_blank_seq(paused_at)
            assert first_blank is not None
            assert seen.real_packets_sent_after(first_blank) == 0  # nothing real after the gate
            assert not seen.real_frames_after_first_blank(paused_at)  # decoded: black / silent
    for viewer, other in ((a, "c"), (c, "a")):
        for seen in viewer.from_participant(other).values():
            assert seen.real_packets_after(paused_at + 0.2) > 0  # a and c are undisturbed

    relay.resume("b")
    resumed_at = time.monotonic()
    await _all_see_each_other(room, min_frames=5, after=resumed_at)
    assert not [r for r in caplog.records if "failed to decode" in r.getMessage()]


async def test_pause_is_idempotent_and_settable_before_the_first_offer(
    browsers: BrowserFactory, relay: Relay, room: Room
) -> None:
    """A participant paused before connecting neither sends nor receives real media."""
    relay.pause("b")
    relay.pause("b")
    a = await browsers("a")
    b = await browsers("b")
    await wait_for(lambda: len(a.from_participant("b")) == 2)
    await wait_for(
        lambda: all(s.blank_frames_after() >= 3 for s in a.from_participant("b").values())
    )
    assert all(s.real_packets_after(0) == 0 for s in a.from_participant("b").values())
    assert all(s.packets_after(0) == 0 for s in b.seen.values())
    relay.resume("b")
    relay.resume("b")
    await _all_see_each_other(room, after=time.monotonic())


async def test_keyframe_request_from_a_consumer_reaches_the_source(
    browsers: BrowserFactory, room: Room
) -> None:
    """A PLI sent by a consumer for b's video is forwarded upstream to b."""
    a = await browsers("a")
    b = await browsers("b")
    await _all_see_each_other(room)
    seen = a.from_participant("b")["video"]
    receiver = next(
        t.receiver
        for t in a.pc.getTransceivers()
        if t.mid is not None and a.seen.get(t.mid) is seen
    )
    b.pli_received.clear()
    await receiver._send_rtcp_pli(seen.ssrc)
    await wait_for(b.pli_received.is_set, timeout=2)


async def test_camera_off_participant_sends_audio_only(
    browsers: BrowserFactory, room: Room
) -> None:
    """A participant without a camera is heard, and the others' video still reaches them."""
    a = await browsers("a")
    c = await browsers("c", video=False)
    await wait_for(lambda: len(a.from_participant("c")) == 1)
    assert set(a.from_participant("c")) == {"audio"}
    await wait_for(lambda: a.from_participant("c")["audio"].real_frames_after() >= 5)
    await wait_for(
        lambda: all(s.real_frames_after() >= 5 for s in c.from_participant("a").values())
    )
    assert set(c.from_participant("a")) == {"audio", "video"}


async def test_leaving_participant_is_removed_from_the_others(
    browsers: BrowserFactory, relay: Relay, room: Room
) -> None:
    """When b leaves, a is asked to re-offer and b's m-lines become inactive."""
    a = await browsers("a")
    await browsers("b")
    await _all_see_each_other(room)
    room.renegotiations.clear()
    b = room.browsers.pop("b")
    await relay.remove("b")
    await relay.remove("b")
    await b.close()
    await wait_for(lambda: "a" in room.renegotiations)
    await wait_for(lambda: a.from_participant("b") == {} or not a.receiving())
    assert set(relay.stats("s1")) == {"a"}


async def test_audio_listener_gets_only_that_participants_opus(
    browsers: BrowserFactory, relay: Relay, room: Room
) -> None:
    """The audio listener receives b's Opus payloads and nothing after it is removed."""
    got: list[tuple[bytes, int]] = []
    relay.set_audio_listener("b", lambda payload, ts: got.append((payload, ts)))
    await browsers("a", video=False)
    await browsers("b", video=False)
    await wait_for(lambda: len(got) >= 10)
    relay.set_audio_listener("b", None)
    count = len(got)
    await wait_for(
        lambda: room.browsers["a"].from_participant("b")["audio"].real_frames_after() >= 30
    )
    assert len(got) == count


async def test_consumer_nack_is_answered_from_the_relays_history(
    browsers: BrowserFactory, room: Room
) -> None:
    """A NACK from a consumer is answered with an RTX retransmission of that packet."""
    a = await browsers("a")
    await browsers("b")
    await _all_see_each_other(room)
    seen = a.from_participant("b")["video"]
    receiver = next(
        t.receiver
        for t in a.pc.getTransceivers()
        if t.mid is not None and a.seen.get(t.mid) is seen
    )
    main_pt, seq, _ = seen.raw[-5]
    await receiver._send_rtcp_nack(seen.ssrc, [seq])
    wanted = seq.to_bytes(2, "big")
    await wait_for(lambda: any(pt != main_pt and head[:2] == wanted for pt, _, head in seen.raw))


async def test_source_gets_bitrate_estimate_capped_by_settings(
    browsers: BrowserFactory, relay: Relay, room: Room
) -> None:
    """The source receives REMB no higher than the configured maximum bitrate."""
    await browsers("a")
    b = await browsers("b")
    await _all_see_each_other(room)
    await wait_for(lambda: len(b.remb) >= 1)
    assert max(b.remb) <= relay._settings.max_bitrate_bps


async def test_freed_slots_are_reused_for_a_newcomer(
    browsers: BrowserFactory, relay: Relay, room: Room
) -> None:
    """After b leaves and c joins, a receives c on the transceivers b used, without adding any."""
    a = await browsers("a")
    await browsers("b")
    await _all_see_each_other(room)
    mids = set(a.seen)
    b = room.browsers.pop("b")
    await relay.remove("b")
    await b.close()
    await browsers("c")
    await _all_see_each_other(room, after=time.monotonic())
    assert set(a.seen) == mids
