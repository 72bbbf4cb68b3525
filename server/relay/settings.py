"""The relay's frozen settings, validated on construction."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RelaySettings:
    """Limits and ICE servers for one Relay instance."""

    ice_servers: tuple[dict[str, Any], ...] = field(default=(), repr=False)
    """STUN/TURN servers as RTCIceServer-like dicts (urls, username, credential)."""
    max_peers: int = 50
    """Peer connections allowed on this node."""
    max_per_session: int = 13
    """Participants allowed in one session."""
    connect_timeout: float = 30.0
    """Seconds a peer may take to complete ICE and DTLS before it is freed."""
    allow_private_candidates: bool = True
    """Keep remote ICE candidates on loopback, link-local and private addresses."""
    max_sdp_bytes: int = 65536
    """Largest offer accepted, in bytes."""
    max_bitrate_bps: int = 2_500_000
    """Bitrate a source is asked not to exceed (sent upstream as REMB)."""

    def __post_init__(self) -> None:
        """Reject values that cannot work."""
        if self.max_peers < 1:
            raise ValueError("max_peers must be at least 1.")
        if self.max_per_session < 2:
            raise ValueError("max_per_session must be at least 2.")
        if self.connect_timeout <= 0:
            raise ValueError("connect_timeout must be positive.")
        if self.max_sdp_bytes < 1024:
            raise ValueError("max_sdp_bytes must be at least 1024.")
        if self.max_bitrate_bps < 30_000:
            raise ValueError("max_bitrate_bps must be at least 30000.")
        for server in self.ice_servers:
            if not isinstance(server, dict) or "urls" not in server:
                raise ValueError("Each ICE server must be a dict with a 'urls' entry.")

    @property
    def max_media_sections(self) -> int:
        """The most m-lines one offer may carry: own audio+video plus a pair per other."""
        return 2 * self.max_per_session + 2
