"""The speech benchmark's PCM arithmetic: truncated RMS, floored scaling, clipped sums."""

from array import array

from bench import pcm


def _pcm(*values: int) -> bytes:
    return array("h", values).tobytes()


def test_rms_is_truncated_and_zero_for_no_samples() -> None:
    assert pcm.rms(_pcm(3, -4)) == 3  # sqrt(12.5) = 3.54
    assert pcm.rms(b"") == 0


def test_scaling_floors_and_clips() -> None:
    assert pcm.scale(_pcm(3, -3, 20000, -20000), 0.5) == _pcm(1, -2, 10000, -10000)
    assert pcm.scale(_pcm(20000, -20000), 2.0) == _pcm(32767, -32768)


def test_adding_a_scaled_signal_clips_the_sum() -> None:
    assert pcm.add_scaled(_pcm(100, 30000, -30000), _pcm(10, 10000, -10000), 0.5) == _pcm(
        105, 32767, -32768
    )
