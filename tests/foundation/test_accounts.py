"""Staff accounts, sign-in, cookies, CSRF and throttling against a real server."""

from __future__ import annotations

import aiohttp

from server.auth.throttle import signin_wait
from server.config import Config
from tests.harness import PASSWORD, FakeClock, Haven, start_haven, stop_haven


async def test_signin_sets_httponly_strict_cookie(haven: Haven) -> None:
    """Signing in sets an HttpOnly, SameSite=Strict session cookie and returns a CSRF token."""
    await haven.accounts.create_service("svc", "Service")
    await haven.accounts.add_user("svc", "facilitator", "f@example.org", PASSWORD)
    async with haven.http.post(
        haven.base + "/api/auth/signin", json={"email": "f@example.org", "password": PASSWORD}
    ) as response:
        assert response.status == 200
        header = response.headers["Set-Cookie"]
        body = await response.json()
    assert "HttpOnly" in header and "SameSite=Strict" in header and "Secure" not in header
    assert body["role"] == "facilitator" and len(body["csrf_token"]) >= 32


def test_cookie_is_secure_under_https() -> None:
    """Under an https public URL the cookie carries Secure."""
    assert Config(public_url="https://haven.example.org").secure_cookies
    assert not Config().secure_cookies


async def test_wrong_password_is_refused_with_one_message(haven: Haven) -> None:
    """A wrong password and an unknown email get the same answer."""
    await haven.accounts.create_service("svc", "Service")
    await haven.accounts.add_user("svc", "lead", "l@example.org", PASSWORD)
    wrong = await haven.post("/api/auth/signin", {"email": "l@example.org", "password": "nope"})
    unknown = await haven.post("/api/auth/signin", {"email": "x@example.org", "password": "nope"})
    assert (
        wrong
        == unknown
        == (
            401,
            {"error": "That email and password do not match an account.", "code": "unauthorized"},
        )
    )


async def test_state_change_without_csrf_token_is_refused(haven: Haven) -> None:
    """A cookie alone cannot change state: the CSRF header is required."""
    staff = await haven.staff()
    async with staff.http.post(haven.base + "/api/sessions", json={"kind": "group"}) as response:
        assert response.status == 401
        assert "CSRF" in (await response.json())["error"]
    status, _ = await staff.call("POST", "/api/sessions", {"kind": "group"})
    assert status == 201


async def test_foreign_origin_is_refused(haven: Haven) -> None:
    """A state-changing request from another origin is refused before any handler runs."""
    staff = await haven.staff()
    async with staff.http.post(
        haven.base + "/api/sessions",
        json={"kind": "group"},
        headers={"X-CSRF-Token": staff.csrf, "Origin": "https://evil.example"},
    ) as response:
        assert response.status == 403


async def test_throttle_backs_off_after_five_failures(config: Config, clock: FakeClock) -> None:
    """After five failures even the right password must wait; later it succeeds."""
    haven = await start_haven(config, clock)
    try:
        await haven.accounts.create_service("svc", "Service")
        await haven.accounts.add_user("svc", "facilitator", "f@example.org", PASSWORD)
        for _ in range(5):
            status, _ = await haven.post(
                "/api/auth/signin", {"email": "f@example.org", "password": "wrong"}
            )
            assert status == 401
        status, body = await haven.post(
            "/api/auth/signin", {"email": "f@example.org", "password": PASSWORD}
        )
        assert status == 429 and "Try again" in body["error"]
        clock.advance(2)
        status, _ = await haven.post(
            "/api/auth/signin", {"email": "f@example.org", "password": PASSWORD}
        )
        assert status == 200
    finally:
        await stop_haven(haven)


def test_throttle_caps_at_one_hundred_failures_an_hour() -> None:
    """A hundred failures in an hour lock the account until the oldest is an hour old."""
    now = 10_000.0
    failures = [now - 3000 + i * 10 for i in range(100)]
    assert signin_wait(failures, now) == 600
    assert signin_wait(failures[:4], now) == 0


async def test_idle_and_absolute_timeouts(config: Config, clock: FakeClock) -> None:
    """A console idle for 30 minutes, or signed in for 12 hours, must sign in again."""
    haven = await start_haven(config, clock)
    try:
        staff = await haven.staff()
        clock.advance(29 * 60)
        assert (await staff.call("GET", "/api/auth/me"))[0] == 200
        clock.advance(31 * 60)
        status, body = await staff.call("GET", "/api/auth/me")
        assert status == 401 and "expired" in body["error"]
        staff = await haven.staff(email="other@example.org")
        for _ in range(25):
            clock.advance(29 * 60)
            status, _ = await staff.call("GET", "/api/auth/me")
        assert status == 401
    finally:
        await stop_haven(haven)


async def test_signin_link_is_single_use(haven: Haven) -> None:
    """A one-time sign-in link signs in once and then never again."""
    await haven.accounts.create_service("svc", "Service")
    user = await haven.accounts.add_user("svc", "facilitator", "f@example.org", PASSWORD)
    link = await haven.accounts.create_signin_link(user)
    path = link.split("127.0.0.1", 1)[1].split("/", 1)[1]
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(f"{haven.base}/{path}", allow_redirects=False) as response:
            assert response.status == 303 and response.headers["Location"] == "/console"
            assert "haven_session" in response.headers["Set-Cookie"]
        async with http.get(f"{haven.base}/{path}", allow_redirects=False) as response:
            assert response.status == 401


async def test_signout_ends_the_signin(haven: Haven) -> None:
    """After signing out the cookie no longer works."""
    staff = await haven.staff()
    assert (await staff.call("POST", "/api/auth/signout"))[0] == 200
    assert (await staff.call("GET", "/api/auth/me"))[0] == 401


async def test_password_change_signs_out_everywhere(haven: Haven) -> None:
    """Changing a password ends every existing sign-in of that account."""
    staff = await haven.staff(email="p@example.org")
    await haven.accounts.change_password("p@example.org", "a new long password")
    assert (await staff.call("GET", "/api/auth/me"))[0] == 401
