"""Services, staff accounts and console sign-in."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from server.auth.passwords import Passwords, password_problem
from server.auth.throttle import signin_wait
from server.auth.tokens import new_id, new_token, token_hash
from server.config import Config
from server.errors import BadRequest, Conflict, NotFound, TooManyRequests, Unauthorized
from server.models import ROLES, Login, Role, Service, User
from server.store import NewEvent, Store, StoreError

EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,39}$")
DEMO_SERVICE = "demo"
DEMO_EMAIL = "facilitator@demo.haven"
DEMO_LEAD_EMAIL = "lead@demo.haven"
DEFAULT_SETTINGS = {
    "escalation_protocol": (
        "If someone is in immediate danger, call 999. Otherwise, call the safeguarding lead on "
        "duty and follow the client's safety plan."
    ),
    "ground_rules": (
        "Be kind. What is said in the session stays in the session. Use first names or an alias. "
        "Anyone can step away at any time."
    ),
    "confidentiality": (
        "What you share stays between you and your facilitators, unless we believe you or "
        "someone else is at risk of serious harm. Then we may have to tell the service's "
        "safeguarding lead, and in an emergency the police or ambulance service."
    ),
    "decoy": {"kind": "builtin", "url": ""},
    "alternative_chord": None,
    "touch_gesture": True,
    "chat_stored": False,
    "webhook_url": "",
    "allow_private_webhooks": False,
}


@dataclass(frozen=True)
class Signin:
    """A fresh console sign-in: the cookie token (never stored) and its CSRF token."""

    token: str
    login: Login
    user: User


class Accounts:
    """Create services and accounts, and sign consoles in and out."""

    def __init__(
        self,
        store: Store,
        passwords: Passwords,
        config: Config,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._passwords = passwords
        self._config = config
        self._clock = clock
        self._dummy_hash = passwords.hash(secrets.token_hex(8))

    async def create_service(self, slug: str, name: str) -> Service:
        """Create a service with the default settings."""
        if not SLUG.match(slug):
            raise BadRequest("A service slug is 2-40 lowercase letters, digits or dashes.")
        if await self._store.service_by_slug(slug):
            raise Conflict(f"A service called {slug} already exists.")
        service = Service(new_id("svc"), slug, name or slug, dict(DEFAULT_SETTINGS))
        await self._store.create_service(
            service, [NewEvent("service.created", service.id, payload={"slug": slug})]
        )
        return service

    async def add_user(self, service_slug: str, role: str, email: str, password: str) -> User:
        """Create a staff account in a service; the password is hashed with argon2id."""
        service = await self._store.service_by_slug(service_slug)
        if service is None:
            raise NotFound(f"There is no service called {service_slug}.")
        if role not in ROLES:
            raise BadRequest(f"A role is one of {', '.join(ROLES)}.")
        email = email.strip().lower()
        if not EMAIL.match(email):
            raise BadRequest("That does not look like an email address.")
        problem = password_problem(password)
        if problem:
            raise BadRequest(problem)
        user = User(new_id("u"), service.id, email, _role(role), self._passwords.hash(password))
        event = NewEvent(
            "user.created", service.id, actor=f"user:{user.id}", payload={"role": role}
        )
        try:
            await self._store.create_user(user, [event])
        except StoreError as exc:
            raise Conflict(str(exc)) from None
        return user

    async def change_password(self, email: str, password: str) -> None:
        """Set a new password for an account and sign it out everywhere."""
        user = await self._store.user_by_email(email)
        if user is None:
            raise NotFound("There is no account with that email.")
        problem = password_problem(password)
        if problem:
            raise BadRequest(problem)
        event = NewEvent("user.password_changed", user.service_id, actor=f"user:{user.id}")
        await self._store.set_password(user.id, self._passwords.hash(password), [event])

    async def sign_in(self, email: str, password: str) -> Signin:
        """Check an email and password, throttled per account, and open a console sign-in."""
        now = self._clock()
        user = await self._store.user_by_email(email)
        if user is None:
            self._passwords.verify(self._dummy_hash, password)  # same cost as a real check
            raise Unauthorized("That email and password do not match an account.")
        failures = await self._store.login_failures_since(user.id, now - 3600)
        wait = signin_wait(failures, now)
        if wait > 0:
            raise TooManyRequests(
                f"Too many failed sign-ins. Try again in {int(wait) + 1} seconds.", wait
            )
        if not self._passwords.verify(user.password_hash, password):
            await self._store.add_login_failure(user.id, now)
            raise Unauthorized("That email and password do not match an account.")
        await self._store.clear_login_failures(user.id)
        return await self._open(user, now, "password")

    async def create_signin_link(self, user: User, ttl_s: float = 24 * 3600) -> str:
        """Return a one-time sign-in link for an account."""
        token = new_token()
        await self._store.create_signin_link(token_hash(token), user.id, self._clock() + ttl_s)
        return f"{self._config.base_url}/signin/{token}"

    async def sign_in_with_link(self, token: str) -> Signin:
        """Spend a one-time sign-in link and open a console sign-in."""
        now = self._clock()
        user_id = await self._store.use_signin_link(token_hash(token), now)
        user = await self._store.user(user_id) if user_id else None
        if user is None:
            raise Unauthorized("This sign-in link has been used or has expired.")
        return await self._open(user, now, "link")

    async def _open(self, user: User, now: float, method: str) -> Signin:
        token = new_token()
        login = Login(token_hash(token), user.id, new_token(), now, now)
        event = NewEvent(
            "user.signed_in", user.service_id, actor=f"user:{user.id}", payload={"method": method}
        )
        await self._store.create_login(login, [event])
        return Signin(token, login, user)

    async def current(self, token: str | None) -> tuple[User, Login]:
        """Return the signed-in account for a cookie token, enforcing idle and absolute limits."""
        if not token:
            raise Unauthorized("Please sign in.")
        now = self._clock()
        login = await self._store.login(token_hash(token))
        if login is None:
            raise Unauthorized("Please sign in.")
        expired = (
            now - login.last_seen > self._config.idle_timeout_s
            or now - login.created_at > self._config.absolute_timeout_s
        )
        user = await self._store.user(login.user_id)
        if expired or user is None:
            await self._store.delete_login(login.token_hash)
            raise Unauthorized("Your sign-in has expired. Please sign in again.")
        if now - login.last_seen > 30:  # bound write traffic from busy consoles
            await self._store.touch_login(login.token_hash, now)
        return user, login

    async def sign_out(self, token: str | None) -> None:
        """End a console sign-in; unknown tokens are ignored."""
        if token:
            await self._store.delete_login(token_hash(token))

    async def ensure_demo(self) -> str | None:
        """On first start, create the demo service, facilitator and lead; return a sign-in link."""
        if await self._store.service_by_slug(DEMO_SERVICE):
            return None
        await self.create_service(DEMO_SERVICE, "Demo service")
        await self.add_user(DEMO_SERVICE, "lead", DEMO_LEAD_EMAIL, secrets.token_urlsafe(18))
        user = await self.add_user(
            DEMO_SERVICE, "facilitator", DEMO_EMAIL, secrets.token_urlsafe(18)
        )
        return await self.create_signin_link(user)


def _role(value: str) -> Role:
    for role in ROLES:
        if role == value:
            return role
    raise BadRequest(f"A role is one of {', '.join(ROLES)}.")
