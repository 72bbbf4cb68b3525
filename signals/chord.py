"""The keyboard chord detector: Shift pressed three times (GOV.UK Exit this page) or a rule."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final, Literal

from signals._checks import require_choice, require_text, require_time

KeyEventType = Literal["keydown", "keyup"]
KEY_EVENT_TYPES: Final[tuple[KeyEventType, ...]] = ("keydown", "keyup")
MODIFIER_KEYS: Final[tuple[str, ...]] = ("Control", "Alt", "Shift", "Meta")
MAX_PRESSES: Final = 10


@dataclass(frozen=True, slots=True)
class KeyEvent:
    """A browser keyboard event, reduced to the fields the detector reads (KeyboardEvent names)."""

    type: KeyEventType
    key: str
    """KeyboardEvent.key, such as "Shift", "h" or "Escape"."""
    code: str = ""
    """KeyboardEvent.code, such as "KeyH"; lets Alt combinations work where Alt changes key."""
    ctrl: bool = False
    alt: bool = False
    shift: bool = False
    meta: bool = False
    repeat: bool = False
    """True for the keydowns a held key repeats."""

    def __post_init__(self) -> None:
        """Require a known event type and a key."""
        require_choice(self.type, KEY_EVENT_TYPES, "key event type")
        if not isinstance(self.key, str) or not self.key:
            raise ValueError("A key event must name its key.")

    def modifiers(self) -> frozenset[str]:
        """Return the modifier keys held during the event."""
        held = (self.ctrl, self.alt, self.shift, self.meta)
        return frozenset(name for name, down in zip(MODIFIER_KEYS, held, strict=True) if down)


@dataclass(frozen=True, slots=True)
class ChordRule:
    """Which key or combination (such as "Control+Alt+H") fires: how many presses, how fast."""

    key: str = "Shift"
    presses: int = 3
    window_s: float = 5.0
    """The longest gap allowed between consecutive presses, in seconds (inclusive)."""

    def __post_init__(self) -> None:
        """Reject a rule that cannot be typed, or that would fire during ordinary typing."""
        require_text(self.key, "chord key")
        parts = self.key.split("+")
        if any(not part for part in parts):
            raise ValueError(
                f"The chord {self.key!r} has an empty part; write it like Control+Alt+H."
            )
        *modifiers, main = parts
        for modifier in modifiers:
            require_choice(modifier, MODIFIER_KEYS, "chord modifier")
        if len(set(modifiers)) != len(modifiers):
            raise ValueError(f"The chord {self.key!r} names a modifier twice.")
        if modifiers and main in MODIFIER_KEYS:
            raise ValueError(f"The chord {self.key!r} must end with a key that is not a modifier.")
        if not modifiers and len(main) == 1:
            raise ValueError(
                f"The chord {self.key!r} would fire while typing; use a combination such as "
                "Control+Alt+H or a named key such as Shift or Escape."
            )
        if isinstance(self.presses, bool) or not isinstance(self.presses, int):
            raise ValueError("The number of presses must be a whole number.")
        lowest = 1 if modifiers else 2
        if not lowest <= self.presses <= MAX_PRESSES:
            raise ValueError(
                f"The chord {self.key!r} needs between {lowest} and {MAX_PRESSES} presses."
            )
        require_time(self.window_s, "chord window")
        if self.window_s <= 0:
            raise ValueError("The chord window must be a positive number of seconds.")

    @property
    def modifiers(self) -> frozenset[str]:
        """Return the modifiers that must be held, empty for a single-key rule."""
        return frozenset(self.key.split("+")[:-1])

    @property
    def main_key(self) -> str:
        """Return the key that is counted."""
        return self.key.split("+")[-1]


@dataclass(frozen=True, slots=True)
class ChordDetector:
    """The detector's memory between key events: its rule and the presses counted so far."""

    rule: ChordRule = ChordRule()
    count: int = 0
    last_press_at: float | None = None
    held: bool = False
    """A single-key rule's key is down."""
    modified: bool = False
    """The single-key rule's key is being used as a modifier, so its release does not count."""

    def __post_init__(self) -> None:
        """Reject a count the rule could not have left behind."""
        if not 0 <= self.count < self.rule.presses:
            raise ValueError("The chord count must be below the number of presses that fires.")
        if (self.count == 0) != (self.last_press_at is None):
            raise ValueError("A chord detector records the last press time exactly when counting.")


def step_chord(detector: ChordDetector, event: KeyEvent, now: float) -> tuple[ChordDetector, bool]:
    """Feed one key event at time now; return the new detector and whether the chord fired."""
    require_time(now, "current time")
    if detector.rule.modifiers:
        return _step_combination(detector, event, now)
    return _step_single(detector, event, now)


def _step_single(
    detector: ChordDetector, event: KeyEvent, now: float
) -> tuple[ChordDetector, bool]:
    """Count releases of a lone key that was not used as a modifier; any other key resets."""
    rule = detector.rule
    if not _is_key(rule.main_key, event):
        # Pressing another key while ours is down, or an event reporting our modifier as held,
        # means ours is a modifier this time (Shift+A); the flag covers keyup-only streams.
        modified = detector.held or rule.main_key in event.modifiers()
        return replace(detector, count=0, last_press_at=None, modified=modified), False
    if event.type == "keydown":
        if event.repeat:
            return detector, False
        return replace(detector, held=True, modified=False), False
    released = replace(detector, held=False, modified=False)
    if detector.modified:
        return replace(released, count=0, last_press_at=None), False
    return _count_press(released, now)


def _step_combination(
    detector: ChordDetector, event: KeyEvent, now: float
) -> tuple[ChordDetector, bool]:
    """Count keydowns of the key with exactly the rule's modifiers; any other keydown resets."""
    rule = detector.rule
    if event.type == "keyup" or event.repeat or event.key in rule.modifiers:
        return detector, False
    if _is_key(rule.main_key, event) and event.modifiers() == rule.modifiers:
        return _count_press(detector, now)
    return replace(detector, count=0, last_press_at=None), False


def _count_press(detector: ChordDetector, now: float) -> tuple[ChordDetector, bool]:
    """Count one press, starting again if the previous one is older than the window."""
    last = detector.last_press_at
    in_window = last is not None and 0 <= now - last <= detector.rule.window_s
    count = detector.count + 1 if in_window else 1
    if count >= detector.rule.presses:
        return replace(detector, count=0, last_press_at=None), True
    return replace(detector, count=count, last_press_at=now), False


def _is_key(name: str, event: KeyEvent) -> bool:
    """Return whether the event is for the named key, by key or, for a letter or digit, by code."""
    if event.key.casefold() == name.casefold():
        return True
    if len(name) == 1 and name.isascii() and name.isalnum():
        return event.code in (f"Key{name.upper()}", f"Digit{name}")
    return False
