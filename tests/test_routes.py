"""The route table (chalicelib/handlers/routes.py) names real handlers, and a cold start
imports none of them (issue #17: `import app` near a bare Chalice app's)."""

from __future__ import annotations

import importlib
import inspect
import json
import os
import pkgutil
import re
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml
from chalice.test import Client

import app as app_module
import chalicelib.handlers
from chalicelib.handlers.routes import LOCAL_ROUTES, ROUTES, Route
from scripts import interpreters

ALL = ROUTES + LOCAL_ROUTES


@pytest.mark.parametrize("route", ALL, ids=lambda r: f"{r.method} {r.path}")
def test_issue_17_each_route_names_a_handler_taking_its_path_parameters(route: Route) -> None:
    module = importlib.import_module(f"chalicelib.handlers.{route.module}")
    handler = getattr(module, route.function)
    assert list(inspect.signature(handler).parameters) == re.findall(r"{(\w+)}", route.path)
    assert hasattr(module, "bp"), "a handler reads its request through its module's blueprint"


def test_the_routes_answering_as_pages_are_openapis_pages() -> None:
    """A page's errors a browser reads (a throttle's 429 among them) answer as pages: the
    operations openapi.yaml tags `Pages` (API.md "HTML pages"), and only those."""
    document = yaml.safe_load((Path(__file__).resolve().parents[1] / "openapi.yaml").read_text())
    documented = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if isinstance(operation, dict) and "Pages" in operation.get("tags", ())
    }
    assert {(route.method, route.path) for route in ROUTES if route.page} == documented


def test_issue_17_every_public_function_of_a_routed_module_has_its_route() -> None:
    """A handler left out of the table would answer nothing, silently."""
    routed = {(r.module, r.function) for r in ALL}
    missing = []
    for found in pkgutil.iter_modules(chalicelib.handlers.__path__):
        module = importlib.import_module(f"chalicelib.handlers.{found.name}")
        if not hasattr(module, "bp"):
            continue
        for name, value in vars(module).items():
            if (
                inspect.isfunction(value)
                and value.__module__ == module.__name__
                and not name.startswith("_")
                and (found.name, name) not in routed
            ):
                missing.append(f"{found.name}.{name}")
    assert missing == []


# What a cold `import app` may load of Portico: the foundation and the two handler modules the
# app itself uses. Each other module, and pydantic, Jinja2, argon2 and css-inline with it, loads
# with the first request or event that needs it.
COLD = {
    "chalicelib",
    "chalicelib.aws",
    "chalicelib.config",
    "chalicelib.db",
    "chalicelib.errors",
    "chalicelib.logs",
    "chalicelib.metrics",
    "chalicelib.handlers",
    "chalicelib.handlers.contract",
    "chalicelib.handlers.routes",
}
HEAVY = ("pydantic", "jinja2", "argon2", "css_inline", "boto3", "email_validator")

# A fresh process: import the app, answer one unauthenticated GET /v1/me (a 401 reads nothing),
# and say which modules each step loaded.
PROBE = """
import json, sys
import app
from chalice.test import Client
cold = sorted(m for m in sys.modules if m.startswith("chalicelib") or m in HEAVY)
with Client(app.app, stage_name="local") as client:
    status = client.http.get("/v1/me").status_code
after = sorted(m for m in sys.modules if m.startswith("chalicelib.handlers."))
print(json.dumps({"cold": cold, "status": status, "after": after}))
"""


def probe() -> dict[str, Any]:
    env = {**os.environ, "PORTICO_STAGE": "local", "AWS_DEFAULT_REGION": "us-east-1"}
    return dict(json.loads(interpreters.last_line(["-c", f"HEAVY = {HEAVY!r}\n{PROBE}"], env)))


def test_issue_17_a_cold_start_imports_no_handler_and_a_request_only_its_own() -> None:
    seen = probe()
    assert set(seen["cold"]) == COLD
    assert seen["status"] == 401
    loaded = set(seen["after"]) - COLD
    # GET /v1/me's handler module and what it imports; not the other areas' handlers.
    assert "chalicelib.handlers.api_auth" in loaded
    for other in ("api_families", "api_imports", "api_appointments", "pages_join", "email_worker"):
        assert f"chalicelib.handlers.{other}" not in loaded


def test_issue_17_lambda_finds_every_event_function_where_its_handler_string_says() -> None:
    """Chalice's template points each function at `module.name`: a name app.py does not
    define would fail that function's every invocation, in AWS only."""
    strings = {source.handler_string for source in app_module.app.event_sources}
    assert len(strings) == 6
    for handler_string in strings:
        module, _, name = handler_string.partition(".")
        assert module == "app"
        assert callable(getattr(app_module, name)), handler_string


SCHEDULES = (
    "outbox_sweep",
    "appointment_reminders",
    "caregiver_grants_ending",
    "invite_follow_ups",
)


@pytest.mark.usefixtures("aws")
@pytest.mark.parametrize("name", SCHEDULES)
def test_issue_17_each_schedule_reaches_its_trigger_through_its_deferred_handler(name: str) -> None:
    """The worker and feedback functions are invoked by their own tests; the schedules here."""
    with Client(app_module.app, stage_name="local") as client:
        event = client.events.generate_cw_event(
            source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
        )
        answer = client.lambda_.invoke(name, event)
    assert answer.payload is None


def test_two_requests_at_once_each_read_their_own() -> None:
    # `chalice local` answers on several threads and Chalice keeps the request on the app:
    # each thread must read the request it is answering (its body, cookies, session), never
    # the other's (a CSRF check read another tab's cookie: test_invites' two tabs)
    app = app_module.app
    requests: dict[str, Any] = {"first": object(), "second": object()}
    both_set = threading.Barrier(2)
    read: dict[str, Any] = {}

    def answer(name: str) -> None:
        app.current_request = requests[name]  # as Chalice does for each event
        both_set.wait(timeout=5)
        read[name] = app.current_request

    threads = [threading.Thread(target=answer, args=(name,)) for name in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert read == requests


def test_an_answer_through_the_app_still_reads_its_request() -> None:
    # The per-thread request is the one Chalice's handlers and the blueprints read
    with Client(app_module.app, stage_name="local") as client:
        answer = client.http.get("/v1/me")
    assert answer.status_code == 401
    assert app_module.app.current_request is not None
    assert app_module.app.current_request.path == "/v1/me"
