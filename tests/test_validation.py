"""Bad input answers 400 naming the fields, or 413, in the contract's error shape: never 500.

API.md conventions: 400 for malformed or invalid input with `details` listing the fields, 413
for a body over 1 MB, names at most 100 characters. Every route that takes a JSON body gets each
kind of bad body, built from a body it accepts by breaking one thing; the client list and the
email log get bad query strings.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support.api import PASSWORD, Answer, Api, Practice, sign_up_practice
from tests.support.worlds import shared_world

SNAKE_CASE = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class World:
    """A practice with one client (who has a login) and one group, its admin signed in; the
    admin is a clinical provider, so appointments name them."""

    practice: Practice
    client_id: str
    group_id: str
    account_id: str
    provider_id: str

    def path(self, template: str) -> str:
        return template.format(
            org_id=self.practice.id, client_id=self.client_id, group_id=self.group_id
        )


def build_world(api: Api) -> World:
    practice = sign_up_practice(api, "sunrise")
    token, clients = practice.admin_token, f"/v1/orgs/{practice.id}/clients"
    client = api.post(
        clients, {"first_name": "Maya", "last_name": "Chen", "email": "maya@example.com"}, token
    )
    group = api.post(f"/v1/orgs/{practice.id}/groups", {"name": "Back pain"}, token)
    me = api.get("/v1/me", token)
    providers = api.get(f"/v1/orgs/{practice.id}/providers", token)
    assert (client.status, group.status, me.status, providers.status) == (201, 201, 200, 200)
    (admin,) = providers.body["providers"]
    assert admin["role"] == "admin"
    return World(
        practice,
        client.body["client"]["id"],
        group.body["group"]["id"],
        me.body["accounts"][0]["account_id"],
        admin["id"],
    )


_world_built, world = shared_world("world", build_world)


@dataclass(frozen=True)
class BodyRoute:
    """A route that parses a JSON body, and how to send it a body it accepts."""

    method: str
    path: str
    valid: Callable[[World], dict[str, Any]]
    required: tuple[str, ...]  # the fields a body must have (API.md)
    string_field: str  # a string field, a name where the body has one (dotted when nested)
    boolean_field: str | None  # a boolean field, if the body has one
    signed_in: bool = True  # sent with the admin's token; the public ones with none
    # What a valid body answers: 202 for the public email forms (R20, R22); a made-up passcode
    # passes validation and is then refused as a wrong code (401).
    accepted: tuple[int, ...] = (200, 201)

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"


ROUTES = [
    BodyRoute(
        "POST",
        "/v1/auth/login",
        lambda w: {"email": w.practice.admin_email, "password": PASSWORD},
        ("email", "password"),
        "email",
        None,
        signed_in=False,
    ),
    BodyRoute(
        "POST",
        "/v1/auth/switch",
        lambda w: {"account_id": w.account_id},
        ("account_id",),
        "account_id",
        None,
    ),
    BodyRoute(
        "POST",
        "/v1/orgs",
        lambda _: {
            "name": "Moonrise Clinic",
            "slug": "moonrise",
            "admin": {
                "email": "ines@moonrise.example",
                "password": PASSWORD,
                "first_name": "Ines",
                "last_name": "Duarte",
            },
        },
        ("name", "slug", "admin"),
        "admin.first_name",
        None,
        signed_in=False,
    ),
    BodyRoute(
        "PATCH",
        "/v1/orgs/{org_id}",
        lambda _: {"name": "Sunrise Physio", "settings": {"otp_login": True}},
        (),
        "name",
        "settings.otp_login",
    ),
    BodyRoute(
        "POST",
        "/v1/orgs/{org_id}/providers",
        lambda _: {"email": "grace@sunrise.example", "first_name": "Grace", "last_name": "Mensah"},
        ("email", "first_name", "last_name"),
        "first_name",
        None,
    ),
    BodyRoute(
        "POST",
        "/v1/orgs/{org_id}/groups",
        lambda _: {"name": "Knee rehab", "portal_settings": {"login_enabled": True}},
        ("name",),
        "name",
        "portal_settings.login_enabled",
    ),
    BodyRoute(
        "PATCH",
        "/v1/orgs/{org_id}/groups/{group_id}",
        lambda _: {"name": "Back pain (evening)"},
        (),
        "name",
        "portal_settings.features.journal",
    ),
    BodyRoute(
        "POST",
        "/v1/orgs/{org_id}/clients",
        lambda _: {"first_name": "Noor", "last_name": "Haddad", "send_invite": False},
        ("first_name", "last_name"),
        "first_name",
        "send_invite",
    ),
    BodyRoute(
        "PATCH",
        "/v1/orgs/{org_id}/clients/{client_id}",
        lambda _: {"last_name": "Chen-Berg"},
        (),
        "last_name",
        "shared_email",
    ),
    BodyRoute(
        "POST",
        "/v1/orgs/{org_id}/clients/{client_id}/password",
        lambda _: {"password": "blue canoe at dawn"},
        ("password",),
        "password",
        None,
    ),
    BodyRoute(
        "POST",
        "/v1/orgs/{org_id}/appointments",
        lambda w: {
            "provider_id": w.provider_id,
            "client_ids": [w.client_id],
            "starts_at": "2099-03-01T10:00:00+01:00",
            "minutes": 50,
            "type": "Initial consultation",
        },
        ("provider_id", "client_ids", "starts_at", "minutes", "type"),
        "type",
        None,
    ),
    BodyRoute(
        "POST",
        "/v1/orgs/{org_id}/clients/{client_id}/contacts",
        lambda _: {"first_name": "Ana", "last_name": "Chen", "relationship": "parent"},
        ("first_name", "last_name", "relationship"),
        "first_name",
        "notify",
    ),
    BodyRoute(
        "POST",
        "/v1/orgs/{org_id}/clients/{client_id}/links",
        lambda _: {
            "new_client": {"first_name": "Lee", "last_name": "Chen", "send_invite": False},
            "relationship": "spouse",
        },
        ("relationship",),
        "new_client.first_name",
        "notify",
    ),
    BodyRoute(
        "POST",
        "/v1/public/orgs/sunrise/bookings",
        lambda _: {
            "email": "sam@example.com",
            "first_name": "Sam",
            "last_name": "Ito",
            "starts_at": "2099-03-01T10:00:00Z",
        },
        ("email", "first_name", "last_name", "starts_at"),
        "first_name",
        None,
        signed_in=False,
    ),
    BodyRoute(
        "POST",
        "/v1/public/orgs/sunrise/purchases",
        lambda _: {
            "email": "sam@example.com",
            "first_name": "Sam",
            "last_name": "Ito",
            "package": "Five sessions",
        },
        ("email", "first_name", "last_name", "package"),
        "package",
        None,
        signed_in=False,
    ),
    BodyRoute(
        "POST",
        "/v1/auth/password-reset",
        lambda _: {"email": "maya@example.com"},
        ("email",),
        "email",
        None,
        signed_in=False,
        accepted=(202,),
    ),
    BodyRoute(
        "POST",
        "/v1/auth/otp",
        lambda _: {"email": "maya@example.com"},
        ("email",),
        "email",
        None,
        signed_in=False,
        accepted=(202,),
    ),
    BodyRoute(
        "POST",
        "/v1/auth/otp/verify",
        lambda _: {"email": "maya@example.com", "code": "123456"},
        ("email", "code"),
        "code",
        None,
        signed_in=False,
        accepted=(401,),
    ),
    BodyRoute(
        "POST",
        "/_local/tick",
        lambda _: {"now": "2031-03-01T09:00:00Z"},
        (),
        "now",
        None,
        signed_in=False,
    ),
]
IDS = [route.id for route in ROUTES]
WITH_REQUIRED = [route for route in ROUTES if route.required]
WITH_BOOLEAN = [route for route in ROUTES if route.boolean_field]


def send(
    api: Api, world: World, route: BodyRoute, *, body: Any = None, raw: str | None = None
) -> Answer:
    token = world.practice.admin_token if route.signed_in else None
    return api.call(route.method, world.path(route.path), body, token=token, raw=raw)


def with_value(body: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    """A copy of `body` with the field at the dotted path set to `value`."""
    changed = copy.deepcopy(body)
    *parents, name = dotted.split(".")
    node = changed
    for parent in parents:
        node = node.setdefault(parent, {})
    node[name] = value
    return changed


def assert_400_naming(answer: Answer, *fields: str) -> None:
    """The contract's 400: `{"error": {"code", "message", "details": [{field, message}]}}`,
    its details naming exactly these fields."""
    assert answer.status == 400, (answer.status, answer.body)
    error = answer.body["error"]
    assert error["code"] == "invalid_request"
    assert isinstance(error["message"], str)
    assert error["message"]
    details = error["details"]
    assert details, "a 400 lists the fields to fix"
    for detail in details:
        assert set(detail) == {"field", "message"}, detail
        assert detail["message"], detail
    assert {detail["field"] for detail in details} == set(fields), details


# Each route, each kind of bad body --------------------------------------------------------------


@pytest.mark.parametrize("route", ROUTES, ids=IDS)
def test_the_unbroken_body_is_accepted(api: Api, world: World, route: BodyRoute) -> None:
    """The control for the cases below: the body they break is one the route takes, so each
    400 below is caused by the one thing broken."""
    answer = send(api, world, route, body=route.valid(world))
    assert answer.status in route.accepted, answer.body


@pytest.mark.parametrize("route", ROUTES, ids=IDS)
def test_a_body_that_is_not_json_is_a_400_on_body(api: Api, world: World, route: BodyRoute) -> None:
    """API.md conventions: 400 with details, never 500 (malformed JSON)."""
    assert_400_naming(send(api, world, route, raw='{"a":'), "body")


@pytest.mark.parametrize("route", ROUTES, ids=IDS)
def test_a_json_array_is_a_400_on_body(api: Api, world: World, route: BodyRoute) -> None:
    """API.md conventions: 400 with details, never 500 (a body is a JSON object)."""
    assert_400_naming(send(api, world, route, raw=json.dumps([route.valid(world)])), "body")


@pytest.mark.parametrize("route", WITH_REQUIRED, ids=[r.id for r in WITH_REQUIRED])
def test_each_missing_required_field_is_named(api: Api, world: World, route: BodyRoute) -> None:
    """API.md conventions: 400 with details listing the fields, never 500 (required fields)."""
    body = {k: v for k, v in route.valid(world).items() if k not in route.required}
    assert_400_naming(send(api, world, route, body=body), *route.required)


@pytest.mark.parametrize("route", ROUTES, ids=IDS)
def test_a_number_where_a_string_belongs_is_a_400_on_that_field(
    api: Api, world: World, route: BodyRoute
) -> None:
    """API.md conventions: 400 with details, never 500 (bodies are strict: 42 is no string)."""
    body = with_value(route.valid(world), route.string_field, 42)
    assert_400_naming(send(api, world, route, body=body), route.string_field)


@pytest.mark.parametrize("route", WITH_BOOLEAN, ids=[r.id for r in WITH_BOOLEAN])
def test_a_string_where_a_boolean_belongs_is_a_400_on_that_field(
    api: Api, world: World, route: BodyRoute
) -> None:
    """API.md conventions: 400 with details, never 500 (bodies are strict: "true" is no boolean)."""
    assert route.boolean_field is not None
    body = with_value(route.valid(world), route.boolean_field, "true")
    assert_400_naming(send(api, world, route, body=body), route.boolean_field)


@pytest.mark.parametrize("route", ROUTES, ids=IDS)
def test_a_100001_character_string_is_a_400_on_that_field(
    api: Api, world: World, route: BodyRoute
) -> None:
    """API.md conventions: limits (names 100, text 10,000); past them 400 on the field."""
    body = with_value(route.valid(world), route.string_field, "x" * 100_001)
    assert_400_naming(send(api, world, route, body=body), route.string_field)


@pytest.mark.parametrize("route", ROUTES, ids=IDS)
def test_an_unknown_field_is_a_400_on_that_field(api: Api, world: World, route: BodyRoute) -> None:
    """API.md conventions: 400 with details, never 500 (bodies are closed: a typo is no no-op)."""
    body = {**route.valid(world), "nickname": "Mo"}
    assert_400_naming(send(api, world, route, body=body), "nickname")


@pytest.mark.parametrize("route", ROUTES, ids=IDS)
def test_a_body_over_1_mb_is_a_413(api: Api, world: World, route: BodyRoute) -> None:
    """API.md conventions: a JSON body is at most 1 MB; past it 413, never 500."""
    body = with_value(route.valid(world), route.string_field, "x" * 1_000_001)
    answer = send(api, world, route, body=body)
    assert answer.status == 413, answer.body
    assert answer.body["error"]["code"] == "body_too_large"
    assert answer.body["error"]["message"]


# The client list's query string ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=abc", "limit"),
        ("status=bogus", "status"),
        ("provider_id=no%20spaces", "provider_id"),
        ("sort=last_name", "sort"),
        ("cursor=garbage", "cursor"),
        ("cursor=" + "x" * 2001, "cursor"),
    ],
    ids=[
        "limit=0",
        "limit=101",
        "limit=abc",
        "status=bogus",
        "provider_id",
        "unknown",
        "cursor",
        "long cursor",
    ],
)
def test_a_bad_client_list_query_is_a_400_naming_the_parameter(
    api: Api, world: World, query: str, field: str
) -> None:
    """API.md conventions: 400 with details, never 500 (GET /v1/orgs/{org_id}/clients?...)."""
    answer = api.get(world.path("/v1/orgs/{org_id}/clients?") + query, world.practice.admin_token)
    assert_400_naming(answer, field)


def test_a_cursor_of_another_organizations_list_is_a_400(api: Api, world: World) -> None:
    """R4 and API.md paging: a cursor reads only the list it came from; another's is a 400."""
    other = sign_up_practice(api, "moonrise")
    for first_name in ("Ana", "Bea"):
        body = {"first_name": first_name, "last_name": "Lopes"}
        assert api.post(f"/v1/orgs/{other.id}/clients", body, other.admin_token).status == 201
    page = api.get(f"/v1/orgs/{other.id}/clients?limit=1", other.admin_token)
    cursor = page.body["next_cursor"]
    assert cursor, page.body
    answer = api.get(
        world.path("/v1/orgs/{org_id}/clients?cursor=") + cursor, world.practice.admin_token
    )
    assert_400_naming(answer, "cursor")


# The email log's query string -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=abc", "limit"),
        ("client_id=no%20spaces", "client_id"),
        ("status=sent", "status"),
        ("cursor=garbage", "cursor"),
        ("cursor=" + "x" * 2001, "cursor"),
    ],
    ids=["limit=0", "limit=101", "limit=abc", "client_id", "unknown", "cursor", "long cursor"],
)
def test_a_bad_email_log_query_is_a_400_naming_the_parameter(
    api: Api, world: World, query: str, field: str
) -> None:
    """API.md conventions: 400 with details, never 500 (GET /v1/orgs/{org_id}/emails?...)."""
    answer = api.get(world.path("/v1/orgs/{org_id}/emails?") + query, world.practice.admin_token)
    assert_400_naming(answer, field)


def _two_emails(api: Api, practice: Practice, client_id: str, provider_id: str) -> None:
    for starts_at in ("2099-03-01T10:00:00Z", "2099-03-02T10:00:00Z"):
        body = {
            "provider_id": provider_id,
            "client_ids": [client_id],
            "starts_at": starts_at,
            "minutes": 30,
            "type": "Follow-up",
        }
        answer = api.post(f"/v1/orgs/{practice.id}/appointments", body, practice.admin_token)
        assert answer.status == 201, answer.body


def test_a_cursor_of_another_email_log_is_a_400(api: Api, world: World) -> None:
    """R4 and API.md paging: an email log's cursor reads only the log it came from, not another
    organization's, nor the same organization's log of one client."""
    _two_emails(api, world.practice, world.client_id, world.provider_id)
    other = sign_up_practice(api, "moonrise")
    client = api.post(
        f"/v1/orgs/{other.id}/clients",
        {"first_name": "Ana", "last_name": "Lopes"},
        other.admin_token,
    )
    admin = api.get(f"/v1/orgs/{other.id}/providers", other.admin_token).body["providers"][0]
    _two_emails(api, other, client.body["client"]["id"], admin["id"])
    foreign = api.get(f"/v1/orgs/{other.id}/emails?limit=1", other.admin_token)
    assert foreign.body["next_cursor"], foreign.body
    own_client = api.get(
        world.path("/v1/orgs/{org_id}/emails?limit=1&client_id={client_id}"),
        world.practice.admin_token,
    )
    assert own_client.body["next_cursor"], own_client.body
    for cursor in (foreign.body["next_cursor"], own_client.body["next_cursor"]):
        answer = api.get(
            world.path("/v1/orgs/{org_id}/emails?cursor=") + cursor, world.practice.admin_token
        )
        assert_400_naming(answer, "cursor")


# Not JSON at all ---------------------------------------------------------------------------------


TEXT_PLAIN = [r for r in ROUTES if r.path in ("/v1/auth/login", "/v1/orgs/{org_id}/clients")]


@pytest.mark.parametrize("route", TEXT_PLAIN, ids=[r.id for r in TEXT_PLAIN])
def test_a_text_plain_body_answers_in_the_contract_shape(
    api: Api, world: World, route: BodyRoute
) -> None:
    """API.md conventions: JSON in and out, errors as {"error": {"code", "message"}}, even when
    Chalice refuses the media type before any view runs (not its {"Code", "Message"})."""
    token = world.practice.admin_token if route.signed_in else None
    answer = api.call(
        route.method,
        world.path(route.path),
        raw=json.dumps(route.valid(world)),
        token=token,
        headers={"content-type": "text/plain"},
    )
    assert answer.status == 415, answer.body
    assert set(answer.body) == {"error"}, answer.body
    assert answer.body["error"]["code"] == "unsupported_media_type"
    assert SNAKE_CASE.match(answer.body["error"]["code"])
    assert answer.body["error"]["message"]


@pytest.mark.parametrize(
    "value",
    ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00", "2020-01-01T00:00:00Z"],
)
def test_a_group_link_expiry_out_of_range_is_a_400(api: Api, practice: Practice, value: str):
    # B3, API.md: an expiry is a future moment this century; never a 500 from date overflow.
    answer = api.post(
        f"/v1/orgs/{practice.id}/groups",
        {"name": "g", "link_expires_at": value},
        practice.admin_token,
    )
    assert_400_naming(answer, "link_expires_at")


@pytest.mark.parametrize("name", ["a\u0000b", "line\nbreak", "\u001b[31mred"])
def test_control_characters_in_a_name_are_a_400(api: Api, practice: Practice, name: str) -> None:
    # API.md limits: a name is one line of printable text.
    answer = api.post(
        f"/v1/orgs/{practice.id}/clients",
        {"first_name": name, "last_name": "X"},
        practice.admin_token,
    )
    assert_400_naming(answer, "first_name")


@pytest.mark.parametrize(
    "value",
    [
        "9999-12-31T23:59:59-05:00",
        "0001-01-01T00:00:00+05:00",
        "1999-12-31T23:59:59Z",
        "2100-01-01T00:00:00Z",
        "2099-12-31T23:00:00-05:00",
    ],
)
def test_an_appointment_start_out_of_range_is_a_400(api: Api, world: World, value: str) -> None:
    # API.md: never a 500 from date overflow; an appointment starts between 2000 and 2100.
    body = {
        "provider_id": world.provider_id,
        "client_ids": [world.client_id],
        "starts_at": value,
        "minutes": 50,
        "type": "Initial consultation",
    }
    answer = api.post(
        world.path("/v1/orgs/{org_id}/appointments"), body, world.practice.admin_token
    )
    assert_400_naming(answer, "starts_at")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"client_ids": []}, "client_ids"),
        ({"client_ids": ["cl_" + str(n) for n in range(21)]}, "client_ids"),
        ({"minutes": 4}, "minutes"),
        ({"minutes": 1441}, "minutes"),
        ({"minutes": 50.5}, "minutes"),
        ({"minutes": "50"}, "minutes"),
        ({"starts_at": "2099-03-01T10:00:00"}, "starts_at"),
        ({"client_ids": ["cl_" + "0" * 24]}, "client_ids.0"),
        ({"provider_id": "pr_" + "0" * 24}, "provider_id"),
    ],
    ids=[
        "no client",
        "21 clients",
        "4 minutes",
        "1441 minutes",
        "fractional minutes",
        "minutes as text",
        "no time zone",
        "unknown client",
        "unknown provider",
    ],
)
def test_a_bad_appointment_is_a_400_on_that_field(
    api: Api, world: World, body: dict[str, Any], field: str
) -> None:
    # API.md conventions: 400 with details naming the field, never 500 (R34)
    valid = {
        "provider_id": world.provider_id,
        "client_ids": [world.client_id],
        "starts_at": "2099-03-01T10:00:00Z",
        "minutes": 50,
        "type": "Initial consultation",
    }
    answer = api.post(
        world.path("/v1/orgs/{org_id}/appointments"), {**valid, **body}, world.practice.admin_token
    )
    assert_400_naming(answer, field)


def test_an_appointment_naming_a_client_twice_is_a_400(api: Api, world: World) -> None:
    # R34: each client of an appointment gets its own email, so each is named once
    body = {
        "provider_id": world.provider_id,
        "client_ids": [world.client_id, world.client_id],
        "starts_at": "2099-03-01T10:00:00Z",
        "minutes": 50,
        "type": "Initial consultation",
    }
    answer = api.post(
        world.path("/v1/orgs/{org_id}/appointments"), body, world.practice.admin_token
    )
    assert_400_naming(answer, "client_ids")


@pytest.mark.parametrize(
    "value", ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00", "0001-01-01T05:00:00Z"]
)
def test_a_tick_now_out_of_range_is_a_400(api: Api, value: str) -> None:
    # API.md conventions: never 500 for bad input (POST /_local/tick {now})
    assert_400_naming(api.post("/_local/tick", {"now": value}), "now")
