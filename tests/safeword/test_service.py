"""The per-app service checks phrases, explains a missing bank, and makes monitors on its pool."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.safeword.service import SafeWordService


async def test_service_checks_and_monitors(tmp_path: Path) -> None:
    """A fresh service checks a phrase, refuses to calibrate without a bank, and makes a monitor."""
    service = SafeWordService.load(tmp_path / "no-bank", workers=1)
    try:
        assert "sincere_phrase" in [p.code for p in service.check("stop")]
        assert service.check("purple armadillo") == []
        with pytest.raises(FileNotFoundError):
            await service.calibrate("purple armadillo")
        monitor = service.monitor("purple armadillo", -20.0, lambda score, at: None)
        assert not monitor.closed
        monitor.close()
        assert monitor.closed
    finally:
        service.close()
