"""Haven's media relay: selective forwarding of VP8 + Opus with a server-enforced pause gate."""

from __future__ import annotations

from .errors import RelayError
from .relay import Relay
from .settings import RelaySettings
from .turn import turn_credentials

__all__ = ["Relay", "RelayError", "RelaySettings", "turn_credentials"]
