"""Media tickets: what a signalling node hands a page so that a relay lets it in.

A relay does not see the page's cookie or capability token (it may be on another origin). The
node that admitted the member signs a short-lived ticket naming the member, their role, the
session and the relay, with HMAC-SHA256 under the cluster secret; the relay checks it when the
media socket connects. A ticket is a bearer credential: never logged.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import asdict, dataclass
from typing import Literal

from server.errors import Unauthorized

MemberRole = Literal["client", "staff"]
TICKET_TTL_S = 120.0
MAX_TICKET_CHARS = 2048


@dataclass(frozen=True)
class MediaTicket:
    """Who may open a media connection, to which relay, for which session, until when."""

    member_id: str
    role: MemberRole
    session_id: str
    relay_id: str
    expires_at: float

    def __post_init__(self) -> None:
        if self.role not in ("client", "staff"):
            raise ValueError("A media ticket is for a client or for staff.")
        if not (self.member_id and self.session_id and self.relay_id):
            raise ValueError("A media ticket names a member, a session and a relay.")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, body: str) -> str:
    return _b64(hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest())


def sign_ticket(secret: str, ticket: MediaTicket) -> str:
    """Serialise and sign a ticket."""
    body = _b64(json.dumps(asdict(ticket), sort_keys=True, separators=(",", ":")).encode())
    return f"{body}.{_mac(secret, body)}"


def verify_ticket(secret: str, token: object, relay_id: str, now: float) -> MediaTicket:
    """Return the ticket if it is genuine, for this relay and not expired; else Unauthorized."""
    if not isinstance(token, str) or len(token) > MAX_TICKET_CHARS or token.count(".") != 1:
        raise Unauthorized("This media ticket is not valid.")
    body, mac = token.split(".")
    if not hmac.compare_digest(mac, _mac(secret, body)):
        raise Unauthorized("This media ticket is not valid.")
    try:
        data = json.loads(_unb64(body))
        ticket = MediaTicket(
            str(data["member_id"]),
            data["role"],
            str(data["session_id"]),
            str(data["relay_id"]),
            float(data["expires_at"]),
        )
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise Unauthorized("This media ticket is not valid.") from None
    if ticket.relay_id != relay_id:
        raise Unauthorized("This media ticket is for another relay; ask for a new one.")
    if ticket.expires_at < now:
        raise Unauthorized("This media ticket has expired; ask for a new one.")
    return ticket
