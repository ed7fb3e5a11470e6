"""Portico's Chalice app: registers the blueprints and the middleware; no logic.

The local stage's `/_local/*` routes are registered in the local stage only, so no other
stage's API (nor its template) has them (DESIGN "Running it here")."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from chalice import Chalice
from chalice.app import Request, Response

from chalicelib import config, db, logs
from chalicelib.errors import PorticoError
from chalicelib.handlers import (
    api_appointments,
    api_auth,
    api_clients,
    api_emails,
    api_families,
    api_imports,
    api_invites,
    api_notifications,
    api_orgs,
    api_portal,
    api_public,
    caregiver_pages,
    email_worker,
    pages_invites,
    pages_join,
    pages_sign_in,
    schedules,
    ses_feedback,
)
from chalicelib.handlers.http import contract_shape, counted, error_response

app = Chalice(app_name="portico")
app.register_blueprint(api_auth.bp)
app.register_blueprint(api_orgs.bp)
app.register_blueprint(api_clients.bp)
app.register_blueprint(api_appointments.bp)
app.register_blueprint(api_emails.bp)
app.register_blueprint(api_notifications.bp)
app.register_blueprint(api_families.bp)
app.register_blueprint(api_portal.bp)
app.register_blueprint(caregiver_pages.bp)
app.register_blueprint(api_imports.bp)
app.register_blueprint(api_public.bp)
app.register_blueprint(api_invites.bp)
app.register_blueprint(pages_invites.bp)
app.register_blueprint(email_worker.bp)
app.register_blueprint(ses_feedback.bp)
app.register_blueprint(schedules.bp)
app.register_blueprint(pages_join.bp)
app.register_blueprint(pages_sign_in.bp)
if config.is_local():
    # Imported on the local stage only: its outbox, drain and fault switch pull in the email
    # delivery and rendering, which no other stage's API loads at a cold start (issue #17).
    from chalicelib.handlers import local

    app.register_blueprint(local.bp)


@app.middleware("all")
def invocation_ids(event: Any, get_response: Callable[[Any], Any]) -> Any:
    """Every log line of an invocation carries its request ids and cold start (logs.py)."""
    return logs.invoked(event, lambda: get_response(event))


@app.middleware("http")
def reads_ahead(event: Request, get_response: Callable[[Request], Response]) -> Response:
    """What a request reads ahead with its session lives as long as the request (db.py)."""
    with db.request_scope():
        return get_response(event)


@app.middleware("http")
def contract_errors(event: Request, get_response: Callable[[Request], Response]) -> Response:
    """The one place that turns errors into the contract's JSON (API.md), Chalice's own too."""
    try:
        return counted(contract_shape(get_response(event)))
    except PorticoError as error:
        return counted(error_response(error))


if config.is_local():

    @app.middleware("http")
    def handler_time(event: Request, get_response: Callable[[Request], Response]) -> Response:
        """The local stage's answers say how long the handler took in this process
        (`Server-Timing: app;dur=<ms>`): what `make load` reports, without the HTTP around it."""
        started = time.perf_counter()
        response = get_response(event)
        elapsed = (time.perf_counter() - started) * 1000
        response.headers["Server-Timing"] = f"app;dur={elapsed:.2f}"
        return response
