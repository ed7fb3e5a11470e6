"""Portico's Chalice app: registers the routes, the other functions and the middleware; no logic.

No handler module is imported here: each loads with the first request or event that needs it
(chalicelib/handlers/routes.py, issue #17). The local stage's `/_local/*` routes are registered
in the local stage only, so no other stage's API (nor its template) has them (DESIGN "Running
it here")."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from chalice import Rate
from chalice.app import Request, Response

from chalicelib import config, db, logs
from chalicelib.errors import PorticoError
from chalicelib.handlers import routes
from chalicelib.handlers.contract import contract_shape, counted, error_response, page_failure

app = routes.App(app_name="portico")
routes.register(app, routes.ROUTES)
if config.is_local():
    routes.register(app, routes.LOCAL_ROUTES)


# The functions beside the API's, each loading its handler module on its first event as the
# routes do. Lambda finds each here, as `app.<name>`.
email_worker = app.on_sqs_message(queue=config.EMAIL_QUEUE, batch_size=10)(
    routes.deferred(app, "email_worker.email_worker")
)
ses_feedback = app.on_sqs_message(queue=config.SES_FEEDBACK_QUEUE, batch_size=10)(
    routes.deferred(app, "ses_feedback.ses_feedback")
)
outbox_sweep = app.schedule(Rate(1, unit=Rate.MINUTES))(
    routes.deferred(app, "schedules.outbox_sweep")
)
appointment_reminders = app.schedule(Rate(5, unit=Rate.MINUTES))(
    routes.deferred(app, "schedules.appointment_reminders")
)
caregiver_grants_ending = app.schedule(Rate(1, unit=Rate.HOURS))(
    routes.deferred(app, "schedules.caregiver_grants_ending")
)
invite_follow_ups = app.schedule(Rate(15, unit=Rate.MINUTES))(
    routes.deferred(app, "schedules.invite_follow_ups")
)


@app.middleware("all")
def invocation_ids(event: Any, get_response: Callable[[Any], Any]) -> Any:
    """Every log line of an invocation carries its request ids and cold start (logs.py)."""
    return logs.invoked(event, lambda: get_response(event))


@app.middleware("http")
def reads_ahead(event: Request, get_response: Callable[[Request], Response]) -> Response:
    """What a request reads ahead with its session lives as long as the request (db.py)."""
    with db.request_scope():
        return get_response(event)


# A page's failure as a page (handlers/forms.py): forms and Jinja2 load with the first one.
failure_page = routes.deferred(app, "forms.failure_page")


@app.middleware("http")
def contract_errors(event: Request, get_response: Callable[[Request], Response]) -> Response:
    """The one place that turns errors into the contract's JSON (API.md), Chalice's own too,
    and a page's failures that are not its own into a page a person can read."""
    try:
        response = contract_shape(get_response(event))
    except PorticoError as error:
        response = error_response(error)
    if page_failure(event, response):
        response = failure_page(response)
    return counted(response)


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
