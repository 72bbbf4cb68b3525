"""Haven's public REST API under ``/api/v1``: API keys, OpenAPI, problem details, the alert stream.

The API is for a service's own systems (its video platform, its incident tooling). It
authenticates with a service API key in ``Authorization: Bearer``, never a cookie, and answers
every refusal as an RFC 9457 problem document.
"""

from __future__ import annotations

from server.api_v1.setup import setup

__all__ = ["setup"]
