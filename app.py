"""Portico's Chalice app: registers the blueprints and the error middleware; no logic."""

from __future__ import annotations

from collections.abc import Callable

from chalice import Chalice
from chalice.app import Request, Response

from chalicelib.errors import PorticoError
from chalicelib.handlers import (
    api_appointments,
    api_auth,
    api_clients,
    api_emails,
    api_families,
    api_imports,
    api_invites,
    api_orgs,
    api_portal,
    api_public,
    caregiver_pages,
    email_worker,
    local,
    pages_invites,
    pages_join,
    schedules,
)
from chalicelib.handlers.http import contract_shape, error_response

app = Chalice(app_name="portico")
app.register_blueprint(api_auth.bp)
app.register_blueprint(api_orgs.bp)
app.register_blueprint(api_clients.bp)
app.register_blueprint(api_appointments.bp)
app.register_blueprint(api_emails.bp)
app.register_blueprint(api_families.bp)
app.register_blueprint(api_portal.bp)
app.register_blueprint(caregiver_pages.bp)
app.register_blueprint(api_imports.bp)
app.register_blueprint(api_public.bp)
app.register_blueprint(api_invites.bp)
app.register_blueprint(pages_invites.bp)
app.register_blueprint(email_worker.bp)
app.register_blueprint(schedules.bp)
app.register_blueprint(local.bp)
app.register_blueprint(pages_join.bp)


@app.middleware("http")
def contract_errors(event: Request, get_response: Callable[[Request], Response]) -> Response:
    """The one place that turns errors into the contract's JSON (API.md), Chalice's own too."""
    try:
        return contract_shape(get_response(event))
    except PorticoError as error:
        return error_response(error)
