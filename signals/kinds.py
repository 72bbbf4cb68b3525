"""Signal kinds and sources, and the Signal value object that every trigger produces."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

from signals._checks import require_choice, require_time

SignalKind = Literal["panic", "step_away", "resume", "duress_resume", "facilitator_pause"]
SignalSource = Literal["control", "keys", "gesture", "typed", "spoken", "facilitator", "embed"]

SIGNAL_KINDS: Final[tuple[SignalKind, ...]] = (
    "panic",
    "step_away",
    "resume",
    "duress_resume",
    "facilitator_pause",
)
SIGNAL_SOURCES: Final[tuple[SignalSource, ...]] = (
    "control",
    "keys",
    "gesture",
    "typed",
    "spoken",
    "facilitator",
    "embed",
)
PAUSE_KINDS: Final[tuple[SignalKind, ...]] = ("panic", "step_away", "facilitator_pause")
RESUME_KINDS: Final[tuple[SignalKind, ...]] = ("resume", "duress_resume")

_SIGNAL_ID: Final = re.compile(r"[A-Za-z0-9_-]{8,64}")


@dataclass(frozen=True, slots=True)
class Signal:
    """One safety signal: a client-generated id, what was asked for, how, and when."""

    id: str
    """Client-generated id, 8-64 characters of [A-Za-z0-9_-]; the same id means the same signal."""
    kind: SignalKind
    """What the signal asks for."""
    source: SignalSource
    """Which trigger produced it; "control" is the disguised on-screen control."""
    at: float
    """When it was triggered, in seconds, as stated by its sender; the core never orders by it."""

    def __post_init__(self) -> None:
        """Reject an id, kind, source or time that the core cannot act on safely."""
        if not isinstance(self.id, str) or _SIGNAL_ID.fullmatch(self.id) is None:
            raise ValueError(
                "A signal id must be 8 to 64 characters, each a letter, a digit, '_' or '-'."
            )
        require_choice(self.kind, SIGNAL_KINDS, "signal kind")
        require_choice(self.source, SIGNAL_SOURCES, "signal source")
        require_time(self.at, "signal time")
        # A facilitator may pause a participant but never un-pause one, and only a facilitator
        # pauses "as facilitator": making both directions unrepresentable enforces it here.
        if self.source == "facilitator" and self.kind != "facilitator_pause":
            raise ValueError(
                f"A facilitator can only send facilitator_pause, not {self.kind}; "
                "only the participant can resume."
            )
        if self.kind == "facilitator_pause" and self.source != "facilitator":
            raise ValueError("A facilitator_pause signal must come from the facilitator source.")
