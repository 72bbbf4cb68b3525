"""Tests for the keyboard chord detector, driven mostly by the shared JSON vectors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from signals import ChordDetector, ChordRule, KeyEvent, KeyEventType, step_chord

VECTORS = json.loads((Path(__file__).parent.parent / "vectors" / "chord.json").read_text("utf-8"))


def key_event(raw: dict[str, Any]) -> KeyEvent:
    """Build a KeyEvent from a vector event written with DOM KeyboardEvent names."""
    return KeyEvent(
        type=raw["type"],
        key=raw["key"],
        code=raw.get("code", ""),
        ctrl=raw.get("ctrlKey", False),
        alt=raw.get("altKey", False),
        shift=raw.get("shiftKey", False),
        meta=raw.get("metaKey", False),
        repeat=raw.get("repeat", False),
    )


def run(rule: ChordRule, events: list[KeyEvent], times: list[float]) -> list[int]:
    """Feed the events to a fresh detector and return the indices at which it fired."""
    detector = ChordDetector(rule=rule)
    fired = []
    for index, (event, now) in enumerate(zip(events, times, strict=True)):
        detector, did_fire = step_chord(detector, event, now)
        if did_fire:
            fired.append(index)
    return fired


def test_the_vector_file_describes_its_format() -> None:
    """The shared vector file explains its own format for other implementations."""
    assert "KeyboardEvent" in VECTORS["description"]
    assert len(VECTORS["cases"]) >= 10


@pytest.mark.parametrize("case", VECTORS["cases"], ids=[c["name"] for c in VECTORS["cases"]])
def test_chord_vector(case: dict[str, Any]) -> None:
    """The detector fires after exactly the events the shared vector lists."""
    rule = ChordRule(**case["rule"]) if "rule" in case else ChordRule()
    events = [key_event(raw) for raw in case["events"]]
    times = [float(raw["t"]) for raw in case["events"]]
    assert run(rule, events, times) == case["fired"]


def test_the_default_rule_is_shift_three_times_within_five_seconds() -> None:
    """With no configuration the chord is GOV.UK's: Shift, three presses, 5 s apart at most."""
    assert ChordRule() == ChordRule(key="Shift", presses=3, window_s=5.0)


def test_a_combination_rule_exposes_its_parts() -> None:
    """A combination names its modifiers and its main key."""
    rule = ChordRule(key="Control+Alt+H", presses=1)
    assert (rule.modifiers, rule.main_key) == (frozenset({"Control", "Alt"}), "H")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"key": "a"}, "would fire while typing"),
        ({"key": "Shift", "presses": 1}, "between 2 and"),
        ({"key": "Control+Alt+H", "presses": 0}, "between 1 and"),
        ({"key": "Shift", "presses": 11}, "between 2 and"),
        ({"key": "Hyper+H", "presses": 1}, "modifier"),
        ({"key": "Control+Alt", "presses": 1}, "not a modifier"),
        ({"key": "Control+Control+H", "presses": 1}, "twice"),
        ({"key": "Control++", "presses": 1}, "empty part"),
        ({"key": "Shift", "window_s": 0.0}, "positive"),
        ({"key": ""}, "chord key"),
    ],
)
def test_unusable_rules_are_rejected(kwargs: dict[str, Any], message: str) -> None:
    """A rule that cannot be typed, or would fire during ordinary typing, is refused clearly."""
    with pytest.raises(ValueError, match=message):
        ChordRule(**kwargs)


def test_a_key_event_must_be_a_keydown_or_keyup() -> None:
    """Key event types are a closed set."""
    with pytest.raises(ValueError, match="key event type"):
        KeyEvent(type="keypress", key="Shift")  # type: ignore[arg-type]


other_keys = st.sampled_from(["a", "B", "Enter", "Control", "Alt", "Meta", "Tab", "1"])
key_types = st.sampled_from(["keydown", "keyup"])


@given(st.lists(st.tuples(other_keys, key_types, st.booleans(), st.floats(0, 3)), max_size=60))
def test_the_chord_never_fires_without_its_key(
    events: list[tuple[str, KeyEventType, bool, float]],
) -> None:
    """A stream of key events that never involves Shift never fires the default chord."""
    detector, now = ChordDetector(), 0.0
    for key, kind, shift, delay in events:
        now += delay
        detector, fired = step_chord(detector, KeyEvent(type=kind, key=key, shift=shift), now)
        assert not fired


@given(st.lists(st.sampled_from(["a", "Z", "1", "Enter"]), min_size=1, max_size=20))
def test_shift_used_as_a_modifier_never_fires(letters: list[str]) -> None:
    """Typing any number of shifted characters, with full keydown/keyup events, never fires."""
    detector, now = ChordDetector(), 0.0
    for letter in letters:
        for event in (
            KeyEvent(type="keydown", key="Shift", shift=True),
            KeyEvent(type="keydown", key=letter, shift=True),
            KeyEvent(type="keyup", key=letter, shift=True),
            KeyEvent(type="keyup", key="Shift"),
        ):
            now += 0.05
            detector, fired = step_chord(detector, event, now)
            assert not fired


def test_a_detector_count_must_fit_its_rule() -> None:
    """A detector cannot hold a count at or above the presses that fire."""
    with pytest.raises(ValueError, match="count"):
        ChordDetector(count=3, last_press_at=0.0)
    with pytest.raises(ValueError, match="last press"):
        ChordDetector(count=1)
