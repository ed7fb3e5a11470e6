"""Every route of the API and the handler that answers it: what app.py registers at a cold
start without importing a handler module (issue #17).

A handler module is imported by the first request that needs it, so a cold start pays only for
what its first request uses: `GET /v1/me` loads the sign-in and session modules, not families,
imports, pages or the email worker. Paths, methods, media types and the IAM authorizer are
written here only; `handler` names a function of a module under `chalicelib.handlers`, which
takes the path's parameters (tests/test_routes.py checks each against its path). A handler
module's `bp` is the blueprint through which it reads the request; it declares no routes.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from chalice import Chalice, IAMAuthorizer
from chalice.app import Request

from chalicelib import aws, errors

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
CSV = "text/csv"


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: str  # "module.function", the module under chalicelib.handlers
    content_types: tuple[str, ...] = (JSON,)
    signed: bool = False  # IAM-signed requests only, checked by API Gateway

    @property
    def page(self) -> bool:
        """One of API.md's HTML pages: a person's browser reads what it answers."""
        return not self.path.startswith(("/v1/", "/_local/"))

    @property
    def module(self) -> str:
        return self.handler.partition(".")[0]

    @property
    def function(self) -> str:
        return self.handler.partition(".")[2]


ROUTES: tuple[Route, ...] = (
    Route("POST", "/v1/orgs/{org_id}/appointments", "api_appointments.create_appointment"),
    Route("GET", "/v1/orgs/{org_id}/appointments", "api_appointments.list_appointments"),
    Route("POST", "/v1/auth/login", "api_auth.login"),
    Route("POST", "/v1/auth/switch", "api_auth.switch"),
    Route("GET", "/v1/me", "api_auth.me"),
    Route("POST", "/v1/auth/logout", "api_auth.logout"),
    Route("POST", "/v1/auth/exchange", "api_auth.exchange"),
    Route("POST", "/v1/orgs/{org_id}/clients", "api_clients.create_client"),
    Route("GET", "/v1/orgs/{org_id}/clients", "api_clients.list_clients"),
    Route("GET", "/v1/orgs/{org_id}/clients/{client_id}", "api_clients.get_client"),
    Route("PATCH", "/v1/orgs/{org_id}/clients/{client_id}", "api_clients.update_client"),
    Route("POST", "/v1/orgs/{org_id}/clients/{client_id}/archive", "api_clients.archive_client"),
    Route(
        "POST", "/v1/orgs/{org_id}/clients/{client_id}/unarchive", "api_clients.unarchive_client"
    ),
    Route(
        "POST", "/v1/orgs/{org_id}/clients/{client_id}/password", "api_clients.set_client_password"
    ),
    Route("GET", "/v1/orgs/{org_id}/clients/{client_id}/timeline", "api_clients.client_timeline"),
    Route("GET", "/v1/orgs/{org_id}/emails", "api_emails.email_log"),
    Route("GET", "/v1/orgs/{org_id}/email-previews", "api_emails.email_preview_kinds"),
    Route("GET", "/v1/orgs/{org_id}/email-previews/{kind}", "api_emails.email_preview"),
    Route("POST", "/v1/orgs/{org_id}/clients/{client_id}/contacts", "api_families.add_contact"),
    Route("GET", "/v1/orgs/{org_id}/clients/{client_id}/contacts", "api_families.list_contacts"),
    Route(
        "PATCH",
        "/v1/orgs/{org_id}/clients/{client_id}/contacts/{contact_id}",
        "api_families.update_contact",
    ),
    Route(
        "DELETE",
        "/v1/orgs/{org_id}/clients/{client_id}/contacts/{contact_id}",
        "api_families.remove_contact",
    ),
    Route("POST", "/v1/orgs/{org_id}/clients/{client_id}/links", "api_families.create_link"),
    Route("GET", "/v1/orgs/{org_id}/clients/{client_id}/links", "api_families.list_links"),
    Route(
        "PATCH", "/v1/orgs/{org_id}/clients/{client_id}/links/{link_id}", "api_families.update_link"
    ),
    Route(
        "DELETE",
        "/v1/orgs/{org_id}/clients/{client_id}/links/{link_id}",
        "api_families.remove_link",
    ),
    Route(
        "GET",
        "/v1/orgs/{org_id}/clients/{client_id}/portal-settings",
        "api_families.get_client_portal_settings",
    ),
    Route(
        "PUT",
        "/v1/orgs/{org_id}/clients/{client_id}/portal-settings",
        "api_families.put_client_portal_settings",
    ),
    Route("GET", "/v1/orgs/{org_id}/portal-settings", "api_families.get_org_portal_settings"),
    Route("PUT", "/v1/orgs/{org_id}/portal-settings", "api_families.put_org_portal_settings"),
    Route("GET", "/v1/orgs/{org_id}/audit", "api_families.audit_log"),
    Route("POST", "/v1/orgs/{org_id}/imports", "api_imports.import_clients", content_types=(CSV,)),
    Route("POST", "/v1/orgs/{org_id}/clients/{client_id}/invite", "api_invites.send_invite"),
    Route("DELETE", "/v1/orgs/{org_id}/clients/{client_id}/invite", "api_invites.revoke_invite"),
    Route(
        "POST",
        "/v1/orgs/{org_id}/clients/{client_id}/password-reset",
        "api_invites.send_password_reset",
    ),
    Route("POST", "/v1/auth/password-reset", "api_invites.request_password_reset"),
    Route("POST", "/v1/auth/otp", "api_invites.request_otp"),
    Route("POST", "/v1/auth/otp/verify", "api_invites.verify_otp"),
    Route(
        "POST",
        "/v1/orgs/{org_id}/clients/{client_id}/notifications",
        "api_notifications.notify_client",
    ),
    Route(
        "POST",
        "/v1/services/orgs/{org_id}/clients/{client_id}/notifications",
        "api_notifications.notify_client_as_service",
        signed=True,
    ),
    Route(
        "GET",
        "/v1/orgs/{org_id}/suppressed-addresses/{email}",
        "api_notifications.suppressed_address",
    ),
    Route(
        "DELETE",
        "/v1/orgs/{org_id}/suppressed-addresses/{email}",
        "api_notifications.clear_suppressed_address",
    ),
    Route("POST", "/v1/orgs", "api_orgs.create_org"),
    Route("GET", "/v1/orgs/{org_id}", "api_orgs.get_org"),
    Route("PATCH", "/v1/orgs/{org_id}", "api_orgs.update_org"),
    Route("POST", "/v1/orgs/{org_id}/providers", "api_orgs.add_provider"),
    Route("GET", "/v1/orgs/{org_id}/providers", "api_orgs.list_providers"),
    Route("PATCH", "/v1/orgs/{org_id}/providers/{provider_id}", "api_orgs.update_provider"),
    Route(
        "POST",
        "/v1/orgs/{org_id}/providers/{provider_id}/deactivate",
        "api_orgs.deactivate_provider",
    ),
    Route(
        "POST",
        "/v1/orgs/{org_id}/providers/{provider_id}/reactivate",
        "api_orgs.reactivate_provider",
    ),
    Route("POST", "/v1/orgs/{org_id}/providers/{provider_id}/invite", "api_orgs.send_staff_invite"),
    Route(
        "DELETE", "/v1/orgs/{org_id}/providers/{provider_id}/invite", "api_orgs.revoke_staff_invite"
    ),
    Route("POST", "/v1/orgs/{org_id}/groups", "api_orgs.create_group"),
    Route("GET", "/v1/orgs/{org_id}/groups", "api_orgs.list_groups"),
    Route("PATCH", "/v1/orgs/{org_id}/groups/{group_id}", "api_orgs.update_group"),
    Route("POST", "/v1/orgs/{org_id}/groups/{group_id}/invite-link", "api_orgs.rotate_group_link"),
    Route("GET", "/v1/portal/profile", "api_portal.portal_profile"),
    Route("GET", "/v1/portal/settings", "api_portal.portal_settings"),
    Route("GET", "/v1/portal/journal-entries", "api_portal.list_journal_entries"),
    Route("POST", "/v1/portal/journal-entries", "api_portal.write_journal_entry"),
    Route("GET", "/v1/portal/appointments", "api_portal.portal_appointments"),
    Route("GET", "/v1/portal/chat", "api_portal.portal_chat"),
    Route("GET", "/v1/portal/access-log", "api_portal.portal_access_log"),
    Route("POST", "/v1/portal/leave-request", "api_portal.portal_leave_request"),
    Route("POST", "/v1/public/orgs/{slug}/bookings", "api_public.public_booking"),
    Route("POST", "/v1/public/orgs/{slug}/purchases", "api_public.public_purchase"),
    Route("GET", "/caregiver-invite/{token}", "caregiver_pages.caregiver_invite_page"),
    Route(
        "POST",
        "/caregiver-invite/{token}",
        "caregiver_pages.accept_caregiver_invite",
        content_types=(FORM,),
    ),
    Route("GET", "/invite/{token}", "pages_invites.invite_page"),
    Route("POST", "/invite/{token}", "pages_invites.invite_form", content_types=(FORM,)),
    Route("GET", "/staff-invite/{token}", "pages_invites.staff_invite_page"),
    Route(
        "POST", "/staff-invite/{token}", "pages_invites.staff_invite_form", content_types=(FORM,)
    ),
    Route("GET", "/reset/{token}", "pages_invites.reset_page"),
    Route("POST", "/reset/{token}", "pages_invites.reset_form", content_types=(FORM,)),
    Route("GET", "/join/{code}", "pages_join.join_page"),
    Route("POST", "/join/{code}", "pages_join.join_submit", content_types=(FORM,)),
    Route("GET", "/join/{code}/welcome", "pages_join.join_welcome"),
    Route("POST", "/join/{code}/welcome", "pages_join.join_continue", content_types=(FORM,)),
    Route("GET", "/join-confirm/{token}", "pages_join.join_confirm_page"),
    Route("POST", "/join-confirm/{token}", "pages_join.join_confirm_submit", content_types=(FORM,)),
    Route("GET", "/sign-in", "pages_sign_in.sign_in_page"),
    Route("POST", "/sign-in", "pages_sign_in.sign_in_submit", content_types=(FORM,)),
    Route("GET", "/sign-in/choose", "pages_sign_in.choose_page"),
    Route("POST", "/sign-in/choose", "pages_sign_in.choose_submit", content_types=(FORM,)),
    Route("POST", "/sign-in/switch", "pages_sign_in.switch_from_portal", content_types=(FORM,)),
)

# The local stage's own routes (DESIGN "Running it here"): registered on that stage only.
LOCAL_ROUTES: tuple[Route, ...] = (
    Route("GET", "/_local/outbox", "local.outbox_page"),
    Route("GET", "/_local/outbox.json", "local.outbox_json"),
    Route("POST", "/_local/drain", "local.drain"),
    Route("POST", "/_local/ses-feedback", "local.local_ses_feedback"),
    Route("POST", "/_local/tick", "local.tick"),
    Route("POST", "/_local/faults", "local.faults"),
    Route("GET", "/_local/portal", "local.local_portal_page"),
    Route("GET", "/_local/api", "local.api_reference_page"),
    Route("GET", "/_local/api/openapi.yaml", "local.api_document"),
    Route("GET", "/_local/api/redoc.standalone.js", "local.redoc_bundle"),
)

_lock = threading.Lock()
_registered: set[str] = set()


class App(Chalice):
    """Chalice, keeping the request being answered per thread. Chalice keeps it on the app
    object, which every thread of `chalice local` (`make run`, and the tests' threads) shares:
    two requests at once could read each other's body, cookies or session. On Lambda one
    invocation runs at a time, so nothing changes there."""

    _requests = threading.local()

    @property
    def current_request(self) -> Request | None:
        return getattr(self._requests, "request", None)

    @current_request.setter
    def current_request(self, request: Request | None) -> None:
        self._requests.request = request


def handler_module(app: Chalice, name: str) -> ModuleType:
    """The handler module `name`, imported on first use, its blueprint registered with `app`
    once (which is what lets it read the current request)."""
    module = importlib.import_module(f"chalicelib.handlers.{name}")
    if name not in _registered:
        with _lock:  # `chalice local` answers on several threads
            if name not in _registered:
                if hasattr(module, "bp"):
                    app.register_blueprint(module.bp)
                _registered.add(name)
    return module


def register(app: Chalice, routes: tuple[Route, ...]) -> None:
    for route in routes:
        app.route(
            route.path,
            methods=[route.method],
            name=route.function,  # the view's name: openapi.yaml's operationId
            content_types=list(route.content_types),
            authorizer=IAMAuthorizer() if route.signed else None,
        )(busy_when_throttled(deferred(app, route.handler)))


# The routes whose answers a person's browser reads, by their resource path (API Gateway's
# and `chalice local`'s `resourcePath`): app.py answers their failures as pages.
PAGES = frozenset(route.path for route in ROUTES if route.page)


def busy_when_throttled(view: Callable[..., Any]) -> Callable[..., Any]:
    """The contract's 429 for a request AWS throttled past the SDK's retries (DynamoDB, KMS,
    SQS), not Chalice's 500: the caller may try again."""

    def call(*event: Any, **params: Any) -> Any:
        try:
            return view(*event, **params)
        except errors.PorticoError:
            raise
        except Exception as exc:
            if aws.throttled(exc):
                raise errors.busy() from exc
            raise

    call.__name__ = call.__qualname__ = view.__name__  # Chalice's name for the view
    return call


def deferred(app: Chalice, handler: str) -> Callable[..., Any]:
    """`handler` ("module.function"), imported with its module on the first call: a route's
    view, or an event function's (app.py)."""
    module, _, function = handler.partition(".")
    answer: Callable[..., Any] | None = None

    def call(*event: Any, **params: Any) -> Any:
        nonlocal answer
        if answer is None:
            answer = getattr(handler_module(app, module), function)
        return answer(*event, **params)

    call.__name__ = call.__qualname__ = function  # Chalice's name for the view or function
    return call
