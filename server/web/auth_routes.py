"""Console sign-in and sign-out over HTTP."""

from __future__ import annotations

from aiohttp import web

from server.accounts import Signin
from server.errors import HavenError
from server.messages import fields
from server.web.common import cookie_name, error_response, read_json, staff
from server.web.keys import ACCOUNTS, CONFIG

routes = web.RouteTableDef()


def _set_cookie(request: web.Request, response: web.StreamResponse, signin: Signin) -> None:
    config = request.app[CONFIG]
    response.set_cookie(
        cookie_name(request),
        signin.token,
        httponly=True,
        samesite="Strict",
        secure=config.secure_cookies,
        path="/",
        max_age=int(config.absolute_timeout_s),
    )


def _me(
    signin_user_role: str, email: str, user_id: str, csrf: str, on_duty: bool
) -> dict[str, object]:
    return {
        "id": user_id,
        "email": email,
        "role": signin_user_role,
        "csrf_token": csrf,
        "on_duty": on_duty,
    }


@routes.post("/api/auth/signin")
async def signin(request: web.Request) -> web.Response:
    """Sign a console in with email and password; sets the HttpOnly session cookie."""
    body = fields(await read_json(request), required={"email": str, "password": str})
    result = await request.app[ACCOUNTS].sign_in(body["email"], body["password"])
    u = result.user
    response = web.json_response(_me(u.role, u.email, u.id, result.login.csrf_token, u.on_duty))
    _set_cookie(request, response, result)
    return response


@routes.get("/signin/{token}")
async def signin_link(request: web.Request) -> web.StreamResponse:
    """Spend a one-time sign-in link and go to the console."""
    try:
        result = await request.app[ACCOUNTS].sign_in_with_link(request.match_info["token"])
    except HavenError as exc:
        return error_response(exc)
    redirect = web.HTTPSeeOther("/console")
    _set_cookie(request, redirect, result)
    raise redirect


@routes.get("/api/auth/me")
async def me(request: web.Request) -> web.Response:
    """Return the signed-in account and its CSRF token."""
    user, login = await staff(request)
    return web.json_response(_me(user.role, user.email, user.id, login.csrf_token, user.on_duty))


@routes.post("/api/auth/signout")
async def signout(request: web.Request) -> web.Response:
    """Sign the console out and clear the cookie."""
    await staff(request)
    await request.app[ACCOUNTS].sign_out(request.cookies.get(cookie_name(request)))
    response = web.json_response({"ok": True})
    response.del_cookie(cookie_name(request), path="/")
    return response
