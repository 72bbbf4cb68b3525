"""Validate an untrusted SDP offer and cut it down to one codec per m-line, with no I/O.

Sources are always VP8 + Opus.  A receive-only video m-line that cannot take VP8 may take H.264
instead: the relay then transcodes for that consumer (the documented fallback).
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass

from .errors import RelayError

logger = logging.getLogger(__name__)

ALLOWED_CODECS = {"audio": "opus", "video": "vp8"}
"""The codec every source sends and every forwarded leg carries, by kind."""
RECEIVE_FALLBACKS = {"audio": (), "video": ("h264",)}
"""Codecs a receive-only m-line may take instead, by preference: such a leg is transcoded."""
DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")
_PT_ATTRS = ("a=rtpmap:", "a=fmtp:", "a=rtcp-fb:")


@dataclass(frozen=True)
class Section:
    """One media section of an offer, as the relay needs it."""

    mid: str
    kind: str
    direction: str
    codec: str
    """The codec kept for this m-line: "opus", "vp8", or a receive fallback such as "h264"."""

    @property
    def sends(self) -> bool:
        """Whether the offerer sends media on this section."""
        return self.direction in ("sendrecv", "sendonly")

    @property
    def receives(self) -> bool:
        """Whether the offerer wants to receive media on this section."""
        return self.direction in ("sendrecv", "recvonly")


@dataclass(frozen=True)
class Offer:
    """A filtered offer: SDP text safe to hand to aiortc, and its media sections."""

    sdp: str
    sections: tuple[Section, ...]


def filter_offer(
    text: str, *, max_bytes: int, max_sections: int, allow_private_candidates: bool
) -> Offer:
    """Check an offer's size and shape, keep only VP8/Opus, drop unwanted candidates."""
    if len(text.encode("utf-8", "replace")) > max_bytes:
        raise RelayError("The offer is larger than the relay accepts.")
    lines = [line for line in text.replace("\r\n", "\n").split("\n") if line]
    if not lines or not lines[0].startswith("v="):
        raise RelayError("The offer is not a valid session description.")
    starts = [i for i, line in enumerate(lines) if line.startswith("m=")]
    if not starts:
        raise RelayError("The offer has no media sections.")
    if len(starts) > max_sections:
        raise RelayError("The offer has more media sections than the relay accepts.")
    out = [ln for ln in lines[: starts[0]] if _keep_line(ln, allow_private_candidates)]
    sections = []
    for start, end in zip(starts, [*starts[1:], len(lines)], strict=True):
        section_lines, section = _filter_section(lines[start:end], allow_private_candidates)
        out.extend(section_lines)
        sections.append(section)
    for kind in ALLOWED_CODECS:
        if sum(1 for s in sections if s.kind == kind and s.sends) > 1:
            raise RelayError(f"An offer may send at most one {kind} track.")
    if len({s.mid for s in sections}) != len(sections):
        raise RelayError("The offer repeats a media section identifier.")
    return Offer(sdp="\r\n".join(out) + "\r\n", sections=tuple(sections))


def _filter_section(lines: list[str], allow_private: bool) -> tuple[list[str], Section]:
    """Return one media section's kept lines and its description."""
    fields = lines[0][2:].split()
    if len(fields) < 4:
        raise RelayError("The offer has a malformed media section.")
    kind = fields[0]
    if kind not in ALLOWED_CODECS:
        raise RelayError("The relay only carries audio and video.")
    mid = ""
    direction = "sendrecv"
    for line in lines[1:]:
        if line.startswith("a=mid:"):
            mid = line[6:].strip()
        elif line[2:] in DIRECTIONS and line.startswith("a="):
            direction = line[2:]
    offered = _payload_types_by_codec(lines)
    codec = choose_codec(kind, offered, sends=direction in ("sendrecv", "sendonly"))
    if codec is None:
        wanted = "Opus" if kind == "audio" else "VP8 (or H.264 on a receive-only m-line)"
        raise RelayError(f"The offer's {kind} must support {wanted}.")
    keep_pts = offered[codec]
    out = [" ".join(["m=" + kind, fields[1], fields[2], *[p for p in fields[3:] if p in keep_pts]])]
    for line in lines[1:]:
        if line.startswith(_PT_ATTRS):
            pt = line.split(":", 1)[1].split(" ", 1)[0]
            if pt not in keep_pts and pt != "*":
                continue
        if _keep_line(line, allow_private):
            out.append(line)
    if not mid:
        raise RelayError("Every media section of the offer needs an a=mid line.")
    return out, Section(mid=mid, kind=kind, direction=direction, codec=codec)


def choose_codec(kind: str, offered: dict[str, set[str]], *, sends: bool) -> str | None:
    """Pick the m-line's codec: the forwarded one if offered, else a receive-only fallback."""
    if offered.get(ALLOWED_CODECS[kind]):
        return ALLOWED_CODECS[kind]
    if sends:
        return None
    return next((c for c in RECEIVE_FALLBACKS[kind] if offered.get(c)), None)


def _payload_types_by_codec(lines: list[str]) -> dict[str, set[str]]:
    """Map each usable codec name to its payload types plus the RTX types that repair them."""
    names: dict[str, str] = {}
    params: dict[str, dict[str, str]] = {}
    for line in lines:
        if line.startswith("a=rtpmap:"):
            pt, _, rest = line[9:].partition(" ")
            names[pt] = rest.split("/", 1)[0].lower()
        elif line.startswith("a=fmtp:"):
            pt, _, rest = line[7:].partition(" ")
            for param in rest.split(";"):
                key, _, value = param.strip().partition("=")
                params.setdefault(pt, {})[key.strip().lower()] = value.strip()
    by_codec: dict[str, set[str]] = {}
    for pt, name in names.items():
        # The relay's H.264 encoder packetizes with FU-A/STAP-A: mode 1 only.
        if name == "h264" and params.get(pt, {}).get("packetization-mode") != "1":
            continue
        if name != "rtx":
            by_codec.setdefault(name, set()).add(pt)
    for pt, name in names.items():
        apt = params.get(pt, {}).get("apt")
        if name == "rtx" and apt is not None:
            for pts in by_codec.values():
                if apt in pts:
                    pts.add(pt)
    return by_codec


def _keep_line(line: str, allow_private: bool) -> bool:
    """Return False for candidate lines the relay must not use."""
    if allow_private or not line.startswith("a=candidate:"):
        return True
    parts = line.split()
    if len(parts) < 8:
        return False
    keep = is_public_address(parts[4])
    if not keep:
        logger.debug("dropping remote candidate %s", line)
    return keep


def is_public_address(host: str) -> bool:
    """Whether an ICE candidate address is a globally routable IP (hostnames are not)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_global
