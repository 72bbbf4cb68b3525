"""Unit tests for the signal kinds, sources and the Signal value object."""

from __future__ import annotations

from typing import get_args

import pytest

from signals import SIGNAL_KINDS, SIGNAL_SOURCES, Signal, SignalKind, SignalSource


def test_constants_list_every_literal_value() -> None:
    """The tuples of kinds and sources hold exactly the values of their Literal types."""
    assert get_args(SignalKind) == SIGNAL_KINDS
    assert get_args(SignalSource) == SIGNAL_SOURCES


def test_a_well_formed_signal_is_accepted() -> None:
    """A signal with a valid id, kind, source and time is built as given."""
    signal = Signal(id="abcd-1234_XYZ", kind="panic", source="keys", at=12.5)
    assert (signal.id, signal.kind, signal.source, signal.at) == (
        "abcd-1234_XYZ",
        "panic",
        "keys",
        12.5,
    )


@pytest.mark.parametrize(
    "bad_id", ["", "short", "a" * 65, "has space1", "ünicode12", "dots.are.bad"]
)
def test_a_malformed_id_is_rejected(bad_id: str) -> None:
    """An id must be 8 to 64 characters of letters, digits, '_' and '-'."""
    with pytest.raises(ValueError, match="signal id"):
        Signal(id=bad_id, kind="panic", source="keys", at=0.0)


def test_an_unknown_kind_or_source_is_rejected() -> None:
    """Kinds and sources are closed sets."""
    with pytest.raises(ValueError, match="signal kind"):
        Signal(id="abcdefgh", kind="explode", source="keys", at=0.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="signal source"):
        Signal(id="abcdefgh", kind="panic", source="telepathy", at=0.0)  # type: ignore[arg-type]


@pytest.mark.parametrize("at", [float("nan"), float("inf"), True, "1.0"])
def test_a_time_that_is_not_a_finite_number_is_rejected(at: object) -> None:
    """A signal's time is a finite number of seconds."""
    with pytest.raises(ValueError, match="time"):
        Signal(id="abcdefgh", kind="panic", source="keys", at=at)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["resume", "duress_resume", "panic", "step_away"])
def test_a_facilitator_can_send_nothing_but_a_facilitator_pause(kind: SignalKind) -> None:
    """A facilitator can pause a participant but can never resume one, so no such signal exists."""
    with pytest.raises(ValueError, match="facilitator"):
        Signal(id="abcdefgh", kind=kind, source="facilitator", at=0.0)


def test_only_a_facilitator_sends_a_facilitator_pause() -> None:
    """A facilitator_pause from a participant's trigger is rejected."""
    with pytest.raises(ValueError, match="facilitator"):
        Signal(id="abcdefgh", kind="facilitator_pause", source="control", at=0.0)
    assert Signal(id="abcdefgh", kind="facilitator_pause", source="facilitator", at=0.0)
