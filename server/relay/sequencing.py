"""Sequence-number and timestamp rewriting for one outgoing stream, with no I/O."""

from __future__ import annotations

import random

_SEQ_MOD = 1 << 16
_TS_MOD = 1 << 32


class OutStream:
    """The RTP sequence/timestamp space a consumer sees, continuous across source switches."""

    __slots__ = ("_anchor", "_clock_rate", "_highest", "_seq_offset", "_ts_offset", "last_time",
                 "last_ts", "next_seq")

    def __init__(self, clock_rate: int, rng: random.Random | None = None) -> None:
        """Start at a random sequence number and timestamp, as RTP senders must."""
        rng = rng or random.Random()
        self._clock_rate = clock_rate
        self.next_seq = rng.randrange(0, 1 << 15)
        self.last_ts = rng.randrange(0, _TS_MOD)
        self.last_time: float | None = None
        self._seq_offset: int | None = None
        self._ts_offset = 0
        self._anchor = 0
        self._highest = 0

    def reanchor(self) -> None:
        """Make the next forwarded packet continue this stream's numbering."""
        self._seq_offset = None

    def _elapsed_ticks(self, now: float) -> int:
        """Return the timestamp advance for the wall-clock time since the last packet."""
        if self.last_time is None:
            return 1
        return max(1, round((now - self.last_time) * self._clock_rate))

    def rewrite(self, seq: int, ts: int, now: float) -> tuple[int, int] | None:
        """Map a source (seq, ts) into this stream, or None for a packet from before the anchor."""
        if self._seq_offset is None:
            self._seq_offset = (self.next_seq - seq) % _SEQ_MOD
            self._ts_offset = (self.last_ts + self._elapsed_ticks(now) - ts) % _TS_MOD
            self._anchor = self._highest = seq
        elif (seq - self._anchor) % _SEQ_MOD >= 0x8000:
            return None
        out_seq = (seq + self._seq_offset) % _SEQ_MOD
        out_ts = (ts + self._ts_offset) % _TS_MOD
        if (seq - self._highest) % _SEQ_MOD < 0x8000:
            self._highest = seq
            self.next_seq = (out_seq + 1) % _SEQ_MOD
            self.last_ts = out_ts
            self.last_time = now
        return out_seq, out_ts

    def skip(self, seq: int) -> None:
        """Drop the newest source packet without leaving a gap (padding-only packets)."""
        if self._seq_offset is not None and seq == (self._highest + 1) % _SEQ_MOD:
            self._highest = seq
            self._seq_offset = (self._seq_offset - 1) % _SEQ_MOD

    def own(self, now: float) -> tuple[int, int]:
        """Allocate (seq, ts) for a packet the relay itself sends (blank media)."""
        seq = self.next_seq
        ts = (self.last_ts + self._elapsed_ticks(now)) % _TS_MOD
        self.next_seq = (seq + 1) % _SEQ_MOD
        self.last_ts = ts
        self.last_time = now
        self._seq_offset = None
        return seq, ts
