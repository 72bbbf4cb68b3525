"""The spoken safe word in the running server: check and calibrate phrases, listen at the relay.

Only clients who opted in, whose phrase has been calibrated, are ever decoded: their Opus
payloads reach a ``SpokenMonitor`` through the relay's audio listener, in memory only. A
detection enters the same path as every other trigger (``Safety.spoken``: kind panic, source
spoken). In practice mode a detection alerts nobody: the client and the session's staff are
told it was heard, and the log records that the practice happened.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from server.errors import Conflict
from server.hub import Hub
from server.models import Invite, Participant, PhraseCalibration
from server.store import NewEvent, Store

log = logging.getLogger(__name__)
DEBOUNCE_S = 5.0
CalibrationState = Literal["missing", "running", "done", "failed"]


class AudioTap(Protocol):
    """The relay's hook for one participant's inbound Opus payloads."""

    def set_audio_listener(
        self, participant_id: str, listener: Callable[[bytes, int], None] | None
    ) -> None:
        """Send that participant's Opus payloads to ``listener`` (None stops it)."""


class SpokenSignal(Protocol):
    """Where a detection goes: the signal path."""

    async def spoken(self, participant_id: str, score: float) -> Any:
        """Record a panic with source spoken."""


def phrase_key(phrase: str) -> str:
    """Return the key a phrase's calibration is stored under: a hash, never the phrase."""
    normal = " ".join(unicodedata.normalize("NFKC", phrase).casefold().split())
    return hashlib.sha256(normal.encode()).hexdigest()


@dataclass
class _Listening:
    session_id: str
    monitor: Any
    practice: bool = False
    last_detection: float = 0.0


class SpokenSafeWords:
    """Phrases, calibrations and the per-client monitors of one server."""

    def __init__(
        self,
        store: Store,
        hub: Hub,
        tap: AudioTap,
        bank_dir: Path,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._hub = hub
        self._tap = tap
        self._bank_dir = bank_dir
        self._clock = clock
        self._service: Any = None
        self._loading = asyncio.Lock()
        self._calibrating: dict[str, asyncio.Task[None]] = {}
        self._failed: dict[str, str] = {}
        self._listening: dict[str, _Listening] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.signals: SpokenSignal | None = None

    async def _speech(self) -> Any:
        """Load pocketsphinx's model and dictionary once, off the event loop (about a second)."""
        async with self._loading:
            if self._service is None:
                from server.safeword.service import SafeWordService

                self._service = await asyncio.to_thread(
                    SafeWordService.load, self._bank_dir / "calibration"
                )
            return self._service

    # -- onboarding -----------------------------------------------------------------------------

    async def check(self, phrase: str) -> list[dict[str, str]]:
        """Return the problems with a proposed phrase, in plain words."""
        service = await self._speech()
        return [{"code": p.code, "message": p.message} for p in service.check(phrase)]

    async def calibration_state(self, phrase: str) -> tuple[CalibrationState, Any]:
        """Return where a phrase's calibration stands, with the stored calibration if done."""
        key = phrase_key(phrase)
        stored = await self._store.phrase_calibration(key)
        if stored is not None:
            return "done", stored
        if key in self._calibrating:
            return "running", None
        if key in self._failed:
            return "failed", self._failed[key]
        return "missing", None

    async def start_calibration(self, phrase: str) -> CalibrationState:
        """Calibrate a phrase in the background (building the speech bank first if needed)."""
        state, _ = await self.calibration_state(phrase)
        if state in ("done", "running"):
            return state
        if await self.check(phrase):
            raise Conflict("Fix the problems with this phrase before calibrating it.")
        key = phrase_key(phrase)
        self._failed.pop(key, None)
        task = asyncio.create_task(self._calibrate(phrase, key))
        self._calibrating[key] = task
        task.add_done_callback(lambda _: self._calibrating.pop(key, None))
        return "running"

    async def _calibrate(self, phrase: str, key: str) -> None:
        try:
            service = await self._speech()
            await asyncio.to_thread(self._ensure_bank)
            result = await service.calibrate(phrase)
            await self._store.save_phrase_calibration(
                PhraseCalibration(
                    key,
                    result.threshold,
                    result.false_alarms_per_hour_expected,
                    result.bank_hours,
                    self._clock(),
                )
            )
            log.info("A spoken phrase was calibrated on %.1f h of speech", result.bank_hours)
        except Exception as exc:
            log.exception("Calibrating a spoken phrase failed")
            self._failed[key] = f"Calibration failed: {exc}"

    def _ensure_bank(self) -> None:
        from server.safeword.bank import SEEDS, BankSpec, build_bank, load_bank

        try:
            load_bank(self._bank_dir / "calibration")
        except FileNotFoundError:
            log.info("Building the speech bank for calibration (about two minutes, once)")
            build_bank(self._bank_dir / "calibration", BankSpec(SEEDS["calibration"], 2.05))

    # -- listening ------------------------------------------------------------------------------

    def listening(self, participant_id: str) -> bool:
        """Tell whether a client's audio is being decoded right now."""
        return participant_id in self._listening

    async def listen(self, participant: Participant, invite: Invite) -> bool:
        """Start decoding an admitted client's audio if they opted in and the phrase is ready."""
        if participant.id in self._listening:
            return True
        if not (invite.spoken_opt_in and invite.spoken_phrase):
            return False
        stored = await self._store.phrase_calibration(phrase_key(invite.spoken_phrase))
        if stored is None:
            log.warning("A client opted in to a spoken phrase that is not calibrated yet")
            return False
        service = await self._speech()
        pid = participant.id

        def on_detect(score: float, at: float) -> None:
            self._detected(pid, score)

        monitor = service.monitor(invite.spoken_phrase, stored.threshold, on_detect)
        self._listening[pid] = _Listening(participant.session_id, monitor)
        self._tap.set_audio_listener(pid, monitor.feed)
        return True

    def practice(self, participant_id: str, on: bool) -> bool:
        """Switch a client's practice mode (detections alert nobody); False if not listening."""
        listening = self._listening.get(participant_id)
        if listening is None:
            return False
        listening.practice = on
        return True

    def stop(self, participant_id: str) -> None:
        """Stop decoding a client's audio at once (opt-out, removal, leaving, session end)."""
        listening = self._listening.pop(participant_id, None)
        if listening is not None:
            self._tap.set_audio_listener(participant_id, None)
            listening.monitor.close()

    def stop_session(self, session_id: str) -> None:
        """Stop decoding every client of a session."""
        for pid, listening in list(self._listening.items()):
            if listening.session_id == session_id:
                self.stop(pid)

    def close(self) -> None:
        """Stop every monitor and the spotting pool."""
        for pid in list(self._listening):
            self.stop(pid)
        for task in self._calibrating.values():
            task.cancel()
        if self._service is not None:
            self._service.close()

    def _detected(self, participant_id: str, score: float) -> None:
        listening = self._listening.get(participant_id)
        now = self._clock()
        if listening is None or now - listening.last_detection < DEBOUNCE_S:
            return  # one utterance, one signal
        listening.last_detection = now
        if listening.practice:
            self._spawn(self._practice_heard(participant_id, score))
        else:
            self._spawn(self._signal(participant_id, score))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _signal(self, participant_id: str, score: float) -> None:
        """Hand the detection to the signal path; retry while the store is unavailable."""
        for attempt in range(20):
            try:
                if self.signals is not None:
                    await self.signals.spoken(participant_id, score)
                return
            except Exception:
                log.exception("Recording a spoken safe word failed (attempt %d)", attempt + 1)
                await asyncio.sleep(0.5)

    async def _practice_heard(self, pid: str, score: float) -> None:
        participant = await self._store.participant(pid)
        if participant is None:
            return
        session = await self._store.session(participant.session_id)
        if session is None:
            return
        await self._store.append(
            NewEvent(
                "practice.completed",
                session.service_id,
                session.id,
                f"participant:{pid}",
                {"trigger": "spoken", "detected": True, "score": round(score, 2)},
            )
        )
        await self._hub.to_participant(pid, "practice_heard", {})
        await self._hub.to_session_staff(
            session.id, "practice_heard", {"participant_id": pid, "score": round(score, 2)}
        )
