"""The benchmark's false-alarm bound is the exact Poisson one the documentation quotes."""

from __future__ import annotations

import math

import pytest

from bench.safeword import upper_95


def test_upper_bound_with_no_false_alarm_is_about_three() -> None:
    """With none observed, the 95 % upper bound on the expected count is ln(20), about 3.0."""
    assert upper_95(0) == pytest.approx(math.log(20), rel=1e-6)


def test_upper_bound_with_one_false_alarm() -> None:
    """With one observed, the bound is 4.74 (the chi-square table value 9.49 / 2)."""
    assert upper_95(1) == pytest.approx(4.744, abs=1e-3)
