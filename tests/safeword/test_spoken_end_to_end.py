"""The spoken safe word end to end: flite speech through an aiortc client into the real relay."""

from __future__ import annotations

import asyncio
import time
import wave
from dataclasses import dataclass
from pathlib import Path

import socketio
from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from server.models import PhraseCalibration
from server.safeword.opus import WavAudioTrack
from server.spoken import phrase_key
from server.web.keys import SPOKEN
from tests.harness import Haven, Inbox, Staff, open_media, some
from tests.safeword.conftest import Speak

PHRASE = "blue umbrella"
WITH_PHRASE = "Yesterday I walked to the market with a blue umbrella and bought some bread."
WITHOUT_PHRASE = "Yesterday I walked to the market with a friend and bought some bread."
# The test stands in for calibration (minutes over a 2-hour bank, tested separately): the
# threshold the monitor tests use for this phrase and voice.
THRESHOLD = -20.0


def _wav(pcm: bytes, path: Path) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(pcm)
    return path


async def _speaking_client(
    haven: Haven, staff: Staff, session_id: str, wav: Path, *, opt_in: bool
) -> tuple[dict[str, str], socketio.AsyncClient, Player]:
    invite = await haven.invite(staff, session_id, spoken_phrase=PHRASE, spoken_opt_in=opt_in)
    joined = await haven.join(invite["token"])
    await staff.call(
        "POST", f"/api/sessions/{session_id}/participants/{joined['participant_id']}/admit"
    )
    sio = await haven.client_socket(joined["token"])
    return joined, sio, await _play(haven, sio, wav)


@dataclass
class Player:
    """An aiortc peer playing a WAV file as its microphone, and its media connection."""

    pc: RTCPeerConnection
    media: socketio.AsyncClient

    async def close(self) -> None:
        """Close the peer connection and the media connection."""
        await self.pc.close()
        await self.media.disconnect()


async def _play(haven: Haven, sio: socketio.AsyncClient, wav: Path) -> Player:
    """Connect an aiortc peer through the server that plays ``wav`` as its microphone."""
    media = await open_media(haven.base, sio, "/client")
    pc = RTCPeerConnection(RTCConfiguration(bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
    pc.addTransceiver(WavAudioTrack(wav, tail_seconds=1.5), direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    answer = await media.call(
        "offer", {"sdp": pc.localDescription.sdp}, namespace="/media", timeout=10
    )
    assert answer["ok"], answer
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))
    return Player(pc, media)


async def _calibrated(haven: Haven) -> None:
    await haven.store.save_phrase_calibration(
        PhraseCalibration(phrase_key(PHRASE), THRESHOLD, 0.0, 2.05, time.time())
    )


async def test_spoken_phrase_through_the_relay_pauses_and_alerts(
    haven: Haven, speak: Speak, tmp_path: Path
) -> None:
    """Saying the phrase in a sentence pauses the client, alerts staff, logs source spoken."""
    await _calibrated(haven)
    wav = _wav(speak(WITH_PHRASE), tmp_path / "with.wav")
    staff = await haven.staff()
    session_id = await haven.new_session(staff)
    console = await staff.console_socket()
    staff_inbox = Inbox(console, "/console", "alert")
    joined, sio, pc = await _speaking_client(haven, staff, session_id, wav, opt_in=True)
    client_inbox = Inbox(sio, "/client", "paused")
    try:
        assert haven.app[SPOKEN].listening(joined["participant_id"])
        alert = await staff_inbox.next("alert", timeout=30)
        assert alert["source"] == "spoken" and alert["participant_id"] == joined["participant_id"]
        assert await client_inbox.next("paused") == {"paused": True}
        received = [
            e
            for e in await haven.store.events(session_id=session_id)
            if e.type == "signal.received"
        ]
        assert received[0].payload["source"] == "spoken"
        assert received[0].payload["score"] >= THRESHOLD
        assert "alert.raised" in await haven.event_types(session_id)
    finally:
        await pc.close()
        await sio.disconnect()
        await console.disconnect()


async def test_same_speech_without_the_phrase_does_nothing(
    haven: Haven, speak: Speak, tmp_path: Path
) -> None:
    """The same sentence without the phrase, fully decoded, raises nothing."""
    await _calibrated(haven)
    pcm = speak(WITHOUT_PHRASE)
    wav = _wav(pcm, tmp_path / "without.wav")
    staff = await haven.staff()
    session_id = await haven.new_session(staff)
    joined, sio, pc = await _speaking_client(haven, staff, session_id, wav, opt_in=True)
    spoken = haven.app[SPOKEN]
    pid = joined["participant_id"]
    try:
        monitor = spoken._listening[pid].monitor
        speech_s = len(pcm) / 2 / 16000
        for _ in range(300):
            if monitor.seconds_decoded >= speech_s + 0.5:
                break
            await asyncio.sleep(0.1)
        assert monitor.seconds_decoded >= speech_s + 0.5
        await monitor.flush()
        assert "signal.received" not in await haven.event_types(session_id)
    finally:
        await pc.close()
        await sio.disconnect()


async def test_client_who_did_not_opt_in_is_never_decoded(
    haven: Haven, speak: Speak, tmp_path: Path
) -> None:
    """Without opt-in, the relay hands nobody this client's audio, phrase or not."""
    await _calibrated(haven)
    wav = _wav(speak(WITH_PHRASE), tmp_path / "with.wav")
    staff = await haven.staff()
    session_id = await haven.new_session(staff)
    joined, sio, pc = await _speaking_client(haven, staff, session_id, wav, opt_in=False)
    try:
        pid = joined["participant_id"]
        assert not haven.app[SPOKEN].listening(pid)
        assert pid not in haven.app[SPOKEN]._tap._listeners  # type: ignore[attr-defined]
        await asyncio.sleep(6)  # the whole sentence plays
        assert "signal.received" not in await haven.event_types(session_id)
        # Turning it on starts decoding; turning it off again stops it at once.
        invite_id = some(await haven.store.participant(pid)).invite_id
        await staff.call(
            "PATCH", f"/api/sessions/{session_id}/invites/{invite_id}", {"spoken_opt_in": True}
        )
        assert haven.app[SPOKEN].listening(pid)
        await staff.call(
            "PATCH", f"/api/sessions/{session_id}/invites/{invite_id}", {"spoken_opt_in": False}
        )
        assert not haven.app[SPOKEN].listening(pid)
    finally:
        await pc.close()
        await sio.disconnect()


async def test_practice_mode_hears_the_phrase_and_alerts_nobody(
    haven: Haven, speak: Speak, tmp_path: Path
) -> None:
    """In practice the client and staff hear 'detected'; no signal, no alert, no pause."""
    await _calibrated(haven)
    wav = _wav(speak(WITH_PHRASE), tmp_path / "with.wav")
    staff = await haven.staff()
    session_id = await haven.new_session(staff)
    console = await staff.console_socket()
    await console.call("watch", {"session_id": session_id}, namespace="/console", timeout=5)
    staff_inbox = Inbox(console, "/console", "practice_heard", "alert")
    # Practice is switched on before the audio starts: join without media first.
    invite = await haven.invite(staff, session_id, spoken_phrase=PHRASE, spoken_opt_in=True)
    joined = await haven.join(invite["token"])
    pid = joined["participant_id"]
    await staff.call("POST", f"/api/sessions/{session_id}/participants/{pid}/admit")
    participant = await haven.store.participant(pid)
    stored_invite = await haven.store.invite(invite["id"])
    assert participant is not None and stored_invite is not None
    assert await haven.app[SPOKEN].listen(participant, stored_invite)
    sio = await haven.client_socket(joined["token"])
    client_inbox = Inbox(sio, "/client", "practice_heard")
    media = await open_media(haven.base, sio, "/client")
    assert (await media.call("practice_phrase", {"on": True}, namespace="/media", timeout=5)) == {
        "ok": True,
        "listening": True,
    }
    pc = await _play(haven, sio, wav)
    try:
        await client_inbox.next("practice_heard", timeout=30)
        heard = await staff_inbox.next("practice_heard")
        assert heard["participant_id"] == pid
        types = await haven.event_types(session_id)
        assert "practice.completed" in types and "signal.received" not in types
        assert staff_inbox.items["alert"] == []
    finally:
        await pc.close()
        await media.disconnect()
        await sio.disconnect()
        await console.disconnect()
