"""R4: a record of another organization is answered exactly like one that does not exist.

Walks every organization-scoped route of the app (from `app.routes`, so a new route is walked
without editing this file, and fails here until it has a sample body and a value for each path
parameter) with a session of another practice, and compares byte for byte with the answer for a
record that does not exist. A path value that is no organization's record (an email `{kind}`) is
the same existing one on both sides, so the organization alone differs.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from app import app
from tests.support.api import Api, Practice, add_provider, sign_up_practice
from tests.support.ses import ses_event
from tests.support.worlds import shared_world

# A valid body for every organization-scoped route that takes one, so that the answer comes
# from the organization check and not from validation.
SAMPLE_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("PATCH", "/v1/orgs/{org_id}"): {"name": "Renamed"},
    ("POST", "/v1/orgs/{org_id}/providers"): {
        "email": "new.provider@example.com",
        "first_name": "New",
        "last_name": "Provider",
    },
    ("PATCH", "/v1/orgs/{org_id}/providers/{provider_id}"): {"first_name": "Renamed"},
    ("POST", "/v1/orgs/{org_id}/providers/{provider_id}/deactivate"): {},
    ("POST", "/v1/orgs/{org_id}/groups"): {"name": "Group"},
    ("PATCH", "/v1/orgs/{org_id}/groups/{group_id}"): {"name": "Renamed"},
    ("POST", "/v1/orgs/{org_id}/clients"): {"first_name": "New", "last_name": "Client"},
    ("PATCH", "/v1/orgs/{org_id}/clients/{client_id}"): {"first_name": "Renamed"},
    ("POST", "/v1/orgs/{org_id}/clients/{client_id}/password"): {"password": "a long password"},
    ("POST", "/v1/orgs/{org_id}/clients/{client_id}/contacts"): {
        "first_name": "Ana",
        "last_name": "Contact",
        "relationship": "parent",
    },
    ("PATCH", "/v1/orgs/{org_id}/clients/{client_id}/contacts/{contact_id}"): {"notify": True},
    ("POST", "/v1/orgs/{org_id}/clients/{client_id}/links"): {
        "client_id": "cl_" + "2" * 24,
        "relationship": "parent",
    },
    ("PATCH", "/v1/orgs/{org_id}/clients/{client_id}/links/{link_id}"): {"notify": True},
    ("PUT", "/v1/orgs/{org_id}/clients/{client_id}/portal-settings"): {"login_enabled": True},
    ("PUT", "/v1/orgs/{org_id}/portal-settings"): {"features": {"bills": True}},
    ("POST", "/v1/orgs/{org_id}/clients/{client_id}/notifications"): {
        "kind": "goal_reminder",
        "data": {"goal_name": "Walk 30 minutes a day"},
    },
    ("POST", "/v1/orgs/{org_id}/appointments"): {
        "provider_id": "pr_" + "1" * 24,
        "client_ids": ["cl_" + "1" * 24],
        "starts_at": "2099-03-01T10:00:00Z",
        "minutes": 50,
        "type": "Initial consultation",
    },
}
# Path values that are no record of an organization: the same, existing one on every side, so
# that only the organization (or the record) differs between the answers compared.
KIND = "appointment_confirmation"
BODILESS_POSTS = {
    "/v1/orgs/{org_id}/groups/{group_id}/invite-link",
    "/v1/orgs/{org_id}/clients/{client_id}/archive",
    "/v1/orgs/{org_id}/clients/{client_id}/unarchive",
    "/v1/orgs/{org_id}/clients/{client_id}/invite",
    "/v1/orgs/{org_id}/clients/{client_id}/password-reset",
    "/v1/orgs/{org_id}/providers/{provider_id}/reactivate",
    "/v1/orgs/{org_id}/providers/{provider_id}/invite",
}
IDS = re.compile(rb"(org|cl|grp|pr|id|ap|em|ct|lk|ev)_[0-9a-f]{24}")


def org_scoped_routes() -> list[tuple[str, str]]:
    return sorted(
        (method, path)
        for path, methods in app.routes.items()
        if path.startswith("/v1/orgs/{org_id}")
        for method in methods
    )


def test_every_org_scoped_route_is_walked() -> None:
    # A new organization-scoped route must say how it is called here, or this test fails.
    for method, path in org_scoped_routes():
        if method in {"POST", "PATCH", "PUT"} and path not in BODILESS_POSTS:
            assert (method, path) in SAMPLE_BODIES or (method, path) in SAMPLE_RAW, (
                f"add a sample body for {method} {path}"
            )
        for name in re.findall(r"{(\w+)}", path):
            assert name in MISSING, f"add a value of {{{name}}} to MISSING and world for {path}"


def build_world(api: Api) -> dict[str, Any]:
    """Two practices, each with a client, a group and a provider; B's admin is the caller."""
    made: dict[str, Any] = {}
    for name in ("a", "b"):
        practice: Practice = sign_up_practice(api, f"practice-{name}")
        provider = add_provider(api, practice, "lee")
        group = api.post(f"/v1/orgs/{practice.id}/groups", {"name": "G"}, practice.admin_token)
        address = f"c.{name}@example.com"
        client = api.post(
            f"/v1/orgs/{practice.id}/clients",
            {
                "first_name": "C",
                "last_name": "L",
                "primary_provider_id": provider["id"],
                "email": address,
                "send_invite": False,
            },
            practice.admin_token,
        )
        client_id = client.body["client"]["id"]
        # R54: the client's address bounced, so the practice sees its suppression
        bounced = api.post("/_local/ses-feedback", ses_event("Bounce", address, None))
        assert bounced.status == 200, bounced.body
        other = api.post(
            f"/v1/orgs/{practice.id}/clients",
            {"first_name": "O", "last_name": "L", "primary_provider_id": provider["id"]},
            practice.admin_token,
        )
        family = f"/v1/orgs/{practice.id}/clients/{client_id}"
        contact = api.post(
            f"{family}/contacts",
            {"first_name": "Ana", "last_name": "C", "relationship": "parent"},
            practice.admin_token,
        )
        link = api.post(
            f"{family}/links",
            {"client_id": other.body["client"]["id"], "relationship": "spouse"},
            practice.admin_token,
        )
        made[name] = {
            "practice": practice,
            "org_id": practice.id,
            "client_id": client_id,
            "contact_id": contact.body["contact"]["id"],
            "link_id": link.body["link"]["id"],
            "group_id": group.body["group"]["id"],
            "provider_id": provider["id"],
            "kind": KIND,
            "email": address,
        }
    return made


_world_built, world = shared_world("world", build_world)


MISSING = {
    "org_id": "org_" + "0" * 24,
    "client_id": "cl_" + "0" * 24,
    "group_id": "grp_" + "0" * 24,
    "contact_id": "ct_" + "0" * 24,
    "link_id": "lk_" + "0" * 24,
    "provider_id": "pr_" + "0" * 24,
    "kind": KIND,
    "email": "nobody.bounced@example.com",
}


# Routes whose body is not JSON (API.md): the CSV import (R18).
SAMPLE_RAW: dict[tuple[str, str], tuple[str, str]] = {
    ("POST", "/v1/orgs/{org_id}/imports"): (
        "text/csv",
        "first_name,last_name,email,phone,dob\nNew,Client,new.client@example.com,,\n",
    ),
}


def call(api: Api, method: str, template: str, ids: dict[str, str], token: str):
    path = template.format(**ids)
    if (method, template) in SAMPLE_RAW:
        media, raw = SAMPLE_RAW[(method, template)]
        return api.call(method, path, raw=raw, token=token, headers={"content-type": media})
    return api.call(method, path, SAMPLE_BODIES.get((method, template)), token)


ORG_SCOPED_GETS = [r for r in org_scoped_routes() if r[0] == "GET"]


@pytest.mark.parametrize(("method", "template"), ORG_SCOPED_GETS)
def test_the_walks_values_answer_in_their_own_practice(api: Api, world, method, template):
    # The control for the walks below: A's admin reading with A's values is answered, so the
    # 404 that B's admin gets for them comes from the organization, not from the values.
    token = world["a"]["practice"].admin_token
    assert call(api, method, template, world["a"], token).status == 200


@pytest.mark.parametrize(("method", "template"), org_scoped_routes())
def test_another_practices_organization_answers_as_missing(api: Api, world, method, template):
    # R4: B's staff on A's organization get exactly what they get for an organization that
    # does not exist.
    token = world["b"]["practice"].admin_token
    foreign = call(api, method, template, world["a"], token)
    missing = call(api, method, template, MISSING, token)
    assert foreign.status == 404
    assert IDS.sub(b"ID", foreign.raw) == IDS.sub(b"ID", missing.raw)


@pytest.mark.parametrize(
    ("method", "template"),
    [r for r in org_scoped_routes() if "{client_id}" in r[1] or "{group_id}" in r[1]],
)
def test_another_practices_records_answer_as_missing_in_ones_own(api: Api, world, method, template):
    # R4: B's staff naming A's client or group under B's own organization get the answer for
    # a record that does not exist.
    token = world["b"]["practice"].admin_token
    own_org = {"org_id": world["b"]["org_id"]}
    foreign = call(api, method, template, {**world["a"], **own_org}, token)
    missing = call(api, method, template, {**MISSING, **own_org}, token)
    assert foreign.status == 404
    assert IDS.sub(b"ID", foreign.raw) == IDS.sub(b"ID", missing.raw)


def test_ids_of_another_practice_in_a_body_answer_as_missing(api: Api, world) -> None:
    # R4: a group or provider id of another practice, named in a body, is "no such record".
    token = world["b"]["practice"].admin_token
    path = f"/v1/orgs/{world['b']['org_id']}/clients"
    for field, foreign_id, missing_id in (
        ("group_id", world["a"]["group_id"], MISSING["group_id"]),
        ("primary_provider_id", world["a"]["practice"].providers["lee"]["id"], "pr_" + "0" * 24),
    ):
        body = {"first_name": "N", "last_name": "C", field: foreign_id}
        foreign = api.post(path, body, token)
        missing = api.post(path, {**body, field: missing_id}, token)
        assert foreign.status == 400
        assert foreign.raw == missing.raw


def test_ids_of_another_practice_in_an_appointment_answer_as_missing(api: Api, world) -> None:
    # R4: a provider or client of another practice, named in an appointment, is "no such record".
    token = world["b"]["practice"].admin_token
    path = f"/v1/orgs/{world['b']['org_id']}/appointments"
    own = {
        "provider_id": world["b"]["provider_id"],
        "client_ids": [world["b"]["client_id"]],
        "starts_at": "2099-03-01T10:00:00Z",
        "minutes": 50,
        "type": "Initial consultation",
    }
    for field, foreign_value, missing_value in (
        ("provider_id", world["a"]["provider_id"], "pr_" + "0" * 24),
        ("client_ids", [world["a"]["client_id"]], [MISSING["client_id"]]),
        (
            "client_ids",
            [world["b"]["client_id"], world["a"]["client_id"]],
            [world["b"]["client_id"], MISSING["client_id"]],
        ),
    ):
        foreign = api.post(path, {**own, field: foreign_value}, token)
        missing = api.post(path, {**own, field: missing_value}, token)
        assert foreign.status == 400, foreign.body
        assert foreign.raw == missing.raw
    assert api.get(path, token).body["appointments"] == []  # nothing was booked meanwhile


def test_the_email_log_of_another_practices_client_is_that_of_a_missing_one(
    api: Api, world
) -> None:
    # R4: B's staff filtering B's email log by A's client (who has emails in A) get what they
    # get for a client that does not exist: an empty log, not A's emails.
    a, b = world["a"], world["b"]
    booked = api.post(
        f"/v1/orgs/{a['org_id']}/appointments",
        {
            **SAMPLE_BODIES[("POST", "/v1/orgs/{org_id}/appointments")],
            "provider_id": a["provider_id"],
            "client_ids": [a["client_id"]],
        },
        a["practice"].admin_token,
    )
    assert booked.status == 201, booked.body
    in_a = api.get(
        f"/v1/orgs/{a['org_id']}/emails?client_id={a['client_id']}", a["practice"].admin_token
    )
    assert [e["client_id"] for e in in_a.body["emails"]] == [a["client_id"]]
    token, log = b["practice"].admin_token, f"/v1/orgs/{b['org_id']}/emails?client_id="
    foreign = api.get(log + a["client_id"], token)
    missing = api.get(log + MISSING["client_id"], token)
    assert foreign.status == 200
    assert foreign.body == {"emails": [], "next_cursor": None}
    assert foreign.raw == missing.raw
    # B's own log holds only B's staff invite to its provider (R49), none of A's emails.
    own = api.get(f"/v1/orgs/{b['org_id']}/emails", token).body["emails"]
    assert [e["kind"] for e in own] == ["staff_invite"]


def test_client_list_never_shows_another_practices_clients(api: Api, world) -> None:
    # R4: lists are one organization's partition.
    for name, other in (("a", "b"), ("b", "a")):
        practice = world[name]["practice"]
        for status in ("active", "archived", "all"):
            listed = api.get(
                f"/v1/orgs/{practice.id}/clients?status={status}", practice.admin_token
            )
            ids = {c["id"] for c in listed.body["clients"]}
            assert world[other]["client_id"] not in ids
