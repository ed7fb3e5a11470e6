"""The Client Portal and its settings (R6, R21, R30–R37, B6): one authorization function, and
a matrix of every portal route against every kind of session."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from chalice.test import Client

from app import app
from chalicelib.db import Tx
from chalicelib.models.profiles import ClientProfile
from chalicelib.services import chat, records
from tests.support import moto
from tests.support.api import Api, Practice, give_password, login, sign_up_practice
from tests.support.email import book
from tests.support.family import (
    add_client,
    caregiver_session,
    client_session,
    family,
)

ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/v1/portal/profile", None),
    ("GET", "/v1/portal/settings", None),
    ("GET", "/v1/portal/journal-entries", None),
    ("POST", "/v1/portal/journal-entries", {"text": "A good week."}),
    ("GET", "/v1/portal/appointments", None),
    ("GET", "/v1/portal/chat", None),
    ("GET", "/v1/portal/access-log", None),
    ("POST", "/v1/portal/leave-request", {"reason": "Moving away."}),
]
OK = {"GET": 200, "POST": 201, "/v1/portal/leave-requestPOST": 202}


def _ok(method: str, path: str) -> int:
    return OK.get(path + method, OK[method])


# What the rules give (R30, R31, R33, B6, B11): (status, error code) per route, per session.
EXPECTED: dict[str, dict[str, tuple[int, str | None]]] = {
    "client": {path + method: (_ok(method, path), None) for method, path, _ in ROUTES},
    "caregiver_in_scope": {
        **{path + method: (_ok(method, path), None) for method, path, _ in ROUTES},
        "/v1/portal/access-logGET": (403, "account_holder_only"),
        "/v1/portal/leave-requestPOST": (403, "account_holder_only"),  # B11: the client asks
    },
    "caregiver_out_of_scope": {
        "/v1/portal/profileGET": (200, None),
        "/v1/portal/settingsGET": (200, None),
        "/v1/portal/journal-entriesGET": (403, "outside_grant"),
        "/v1/portal/journal-entriesPOST": (403, "outside_grant"),
        "/v1/portal/appointmentsGET": (403, "outside_grant"),
        "/v1/portal/chatGET": (403, "outside_grant"),
        "/v1/portal/access-logGET": (403, "account_holder_only"),
        "/v1/portal/leave-requestPOST": (403, "account_holder_only"),
    },
    "caregiver_after_revoke": {
        path + method: (401, "session_expired") for method, path, _ in ROUTES
    },
    "other_organizations_client": {
        path + method: (_ok(method, path), None) for method, path, _ in ROUTES
    },
}


def _session(api: Api, practice: Practice, who: str) -> tuple[str, str]:
    """A session of the kind named, and the care receiver whose records it must (not) reach."""
    scopes = {"caregiver_out_of_scope": ["bills"]}.get(who)
    access = {"acknowledged": True, **({"scopes": scopes} if scopes else {})}
    fam = family(api, practice, portal_access=access)
    book(api, practice, [fam.receiver])
    if who == "client":
        give_password("sam@example.com")
        return client_session(api, "sam@example.com"), fam.receiver
    if who == "other_organizations_client":
        other = sign_up_practice(api, "elsewhere")
        add_client(api, other, "Max", "max@example.com")
        give_password("max@example.com")
        return client_session(api, "max@example.com"), fam.receiver
    token = caregiver_session(api, fam)
    if who == "caregiver_after_revoke":
        assert api.call("DELETE", fam.link_path, token=practice.admin_token).status == 204
    return token, fam.receiver


Built = dict[str, tuple[str, str, moto.Snapshot]]


@pytest.fixture(scope="module")
def sessions_built(_practice_snapshot: tuple[Practice, moto.Snapshot]) -> Built:
    """Each kind of session built once on the practice (a family, a booking, a grant) and
    snapshotted: the matrix's 40 cases restore one instead of building it again."""
    made, taken = _practice_snapshot
    built: Built = {}
    for who in EXPECTED:
        moto.wipe()
        moto.restore(taken, "practice")
        with Client(app, stage_name="local") as client:
            token, receiver = _session(Api(client), copy.deepcopy(made), who)
        built[who] = (token, receiver, moto.snapshot())
    moto.wipe()
    return built


@pytest.mark.parametrize("who", list(EXPECTED))
@pytest.mark.parametrize(
    ("method", "path", "body"), ROUTES, ids=[m + " " + p for m, p, _ in ROUTES]
)
def test_each_portal_route_answers_each_session_as_the_rules_give(
    api: Api, sessions_built: Built, who: str, method: str, path: str, body: dict | None
) -> None:
    # R30, R31, R33, R4, B6: client, caregiver in and out of scope, after revoke, elsewhere
    token, receiver, taken = sessions_built[who]
    moto.restore(taken, f"a {who} session")
    answer = api.call(method, path, body, token)
    status, code = EXPECTED[who][path + method]
    assert (answer.status, answer.error_code()) == (status, code), answer.body
    if who == "other_organizations_client":
        assert receiver.encode() not in answer.raw  # R4, R6: nothing of the other profile


def test_r36_journal_off_is_feature_disabled_for_client_and_caregiver(
    api: Api, practice: Practice
) -> None:
    fam = family(api, practice)
    caregiver = caregiver_session(api, fam)
    give_password("sam@example.com")
    client = client_session(api, "sam@example.com")
    settings = f"/v1/orgs/{practice.id}/clients/{fam.receiver}/portal-settings"
    put = api.call("PUT", settings, {"features": {"journal": False}}, practice.admin_token)
    assert put.status == 200
    for token in (client, caregiver):
        for method in ("GET", "POST"):
            answer = api.call(method, "/v1/portal/journal-entries", {"text": "x"}, token)
            assert (answer.status, answer.error_code()) == (403, "feature_disabled")


def test_r36_appointments_off_at_the_org_level_is_feature_disabled(
    api: Api, practice: Practice
) -> None:
    add_client(api, practice, "Sam", "sam@example.com")
    give_password("sam@example.com")
    token = client_session(api, "sam@example.com")
    org_settings = f"/v1/orgs/{practice.id}/portal-settings"
    put = api.call("PUT", org_settings, {"features": {"appointments": False}}, practice.admin_token)
    assert put.status == 200, put.body
    assert put.body["own"]["features"]["appointments"] is False
    assert api.get("/v1/portal/appointments", token).error_code() == "feature_disabled"
    effective = api.get("/v1/portal/settings", token).body["effective"]
    assert effective["features"]["appointments"] is False


def test_r35_the_most_specific_level_wins(api: Api, practice: Practice) -> None:
    token = practice.admin_token
    group = api.post(
        f"/v1/orgs/{practice.id}/groups",
        {"name": "Teens", "portal_settings": {"features": {"bills": True}}},
        token,
    ).body["group"]["id"]
    sam = add_client(api, practice, "Sam", None, group_id=group)
    api.call(
        "PUT",
        f"/v1/orgs/{practice.id}/portal-settings",
        {"features": {"bills": False, "goals": False}},
        token,
    )
    path = f"/v1/orgs/{practice.id}/clients/{sam}/portal-settings"
    answer = api.call("PUT", path, {"features": {"goals": True}}, token)
    assert answer.status == 200, answer.body
    own, effective = answer.body["own"], answer.body["effective"]
    assert own["features"]["bills"] is None  # not set on the client
    assert (effective["features"]["bills"], effective["features"]["goals"]) == (True, True)
    assert effective["features"]["journal"] is True  # none set: on


def test_r37_login_shut_at_the_org_level_ends_sessions_and_the_account(
    api: Api, practice: Practice
) -> None:
    add_client(api, practice, "Sam", "sam@example.com")
    give_password("sam@example.com")
    token = client_session(api, "sam@example.com")
    shut = api.call(
        "PUT",
        f"/v1/orgs/{practice.id}/portal-settings",
        {"login_enabled": False},
        practice.admin_token,
    )
    assert shut.status == 200
    assert api.get("/v1/portal/profile", token).status == 401
    assert login(api, "sam@example.com").body["accounts"] == []


def test_r37_login_shut_for_the_client_ends_a_caregivers_session_too(
    api: Api, practice: Practice
) -> None:
    fam = family(api, practice)
    token = caregiver_session(api, fam)
    path = f"/v1/orgs/{practice.id}/clients/{fam.receiver}/portal-settings"
    assert api.call("PUT", path, {"login_enabled": False}, practice.admin_token).status == 200
    assert api.get("/v1/portal/profile", token).status == 401


def test_r6_a_journal_entry_belongs_to_one_profile(api: Api, practice: Practice) -> None:
    fam = family(api, practice)
    caregiver = caregiver_session(api, fam)
    api.post("/v1/portal/journal-entries", {"text": "For Sam."}, caregiver)
    give_password(fam.caregiver_email)
    signed_in = login(api, fam.caregiver_email)
    (own,) = [a for a in signed_in.body["accounts"] if a["kind"] == "client"]
    mine = api.post("/v1/auth/switch", {"account_id": own["account_id"]}, signed_in.body["token"])
    entries = api.get("/v1/portal/journal-entries", mine.body["token"]).body["entries"]
    assert entries == []


def test_r21_the_welcome_message_is_in_the_chat(api: Api, practice: Practice) -> None:

    api.patch(
        f"/v1/orgs/{practice.id}",
        {"settings": {"welcome_message": {"enabled": True, "text": "Welcome to Sunrise!"}}},
        practice.admin_token,
    )
    sam = add_client(api, practice, "Sam", "sam@example.com")
    tx = Tx()
    chat.welcome(tx, records.org(practice.id), ClientProfile.get(practice.id, sam))
    tx.commit()
    give_password("sam@example.com")
    messages = api.get("/v1/portal/chat", client_session(api, "sam@example.com")).body["messages"]
    assert [m["text"] for m in messages] == ["Welcome to Sunrise!"]


def test_staff_sessions_are_not_portal_sessions(api: Api, practice: Practice) -> None:
    answer = api.get("/v1/portal/profile", practice.admin_token)
    assert (answer.status, answer.error_code()) == (403, "portal_only")


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("GET", "/contacts", None),
        ("POST", "/links", {"client_id": "cl_" + "1" * 24, "relationship": "parent"}),
        ("PUT", "/portal-settings", {"login_enabled": True}),
        ("GET", "/portal-settings", None),
    ],
)
def test_a_client_cannot_use_the_staff_routes_on_their_own_record(
    api: Api, practice: Practice, method: str, suffix: str, body: dict | None
) -> None:
    # DESIGN "Authorization": clients act through the portal only; contacts, links, grants and
    # settings are staff's (R24, R25, R30, R35).
    sam = add_client(api, practice, "Sam", "sam@example.com")
    give_password("sam@example.com")
    token = client_session(api, "sam@example.com")
    answer = api.call(method, f"/v1/orgs/{practice.id}/clients/{sam}{suffix}", body, token)
    assert (answer.status, answer.error_code()) == (403, "staff_only")
    audit = api.get(f"/v1/orgs/{practice.id}/audit?client_id={sam}", token)
    assert (audit.status, audit.error_code()) == (403, "staff_only")
