"""Sign-in and accounts (API.md): login, switch, me, logout, and the hosted pages' one-time code
traded for the session (B9)."""

from __future__ import annotations

from chalice import Blueprint
from chalice.app import Response

from chalicelib.handlers.http import actor, no_content, ok, parse, source_address
from chalicelib.handlers.views.identity import signed_in_view
from chalicelib.schemas.identity import Exchange, Login, Switch
from chalicelib.services.identity import auth, handover

bp = Blueprint(__name__)  # how this module reads its request; its routes: routes.py


def login() -> Response:
    request = bp.current_request
    result = auth.sign_in(parse(Login, request), source_address(request))
    return ok(signed_in_view(result))


def switch() -> Response:
    request = bp.current_request
    # The body is read after the session (a 401 first) and before its batch read (issue #17).
    caller = actor(request, lambda _: auth.switch_reads(parse(Switch, request)))
    result = auth.switch(caller, parse(Switch, request))
    shown = signed_in_view(result)
    return ok({"token": shown["token"], "account": shown["account"]})


def me() -> Response:
    caller = actor(bp.current_request, auth.me_reads)
    shown = signed_in_view(auth.me(caller))
    return ok({"identity": {"id": caller.identity.id, "email": caller.identity.email}, **shown})


def logout() -> Response:
    auth.sign_out(actor(bp.current_request))
    return no_content()


def exchange() -> Response:
    return ok(signed_in_view(handover.exchange(parse(Exchange, bp.current_request))))
