"""Typed application keys: the application's state, with no module-level singletons."""

from __future__ import annotations

from aiohttp import web

from server.accounts import Accounts
from server.config import Config
from server.hub import Hub
from server.media import Media
from server.safety import Safety
from server.sessions import Sessions
from server.spoken import SpokenSafeWords
from server.store import Store

CONFIG = web.AppKey("config", Config)
STORE = web.AppKey("store", Store)
ACCOUNTS = web.AppKey("accounts", Accounts)
SESSIONS = web.AppKey("sessions", Sessions)
SAFETY = web.AppKey("safety", Safety)
HUB = web.AppKey("hub", Hub)
MEDIA = web.AppKey("media", Media)
SPOKEN = web.AppKey("spoken", SpokenSafeWords)
