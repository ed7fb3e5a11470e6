"""What fuzzing openapi.yaml against the local stack found (tests/e2e/test_fuzz.py), each kept
as a plain regression test so it stays fixed without the fuzzer's luck."""

from __future__ import annotations

from typing import Any

from chalicelib.models.orgs import Organization
from chalicelib.rules.settings import org_settings
from tests.support.api import PASSWORD, Api, Practice
from tests.support.records import stored


def test_a_partial_welcome_message_changes_only_the_fields_it_names(
    api: Api, practice: Practice
) -> None:
    # R21, API.md PATCH /v1/orgs/{org_id}: a partial object changes only what it names. Found:
    # `{"welcome_message": {"text": ""}}` replaced the whole message, dropping `enabled`; the
    # answer broke the schema and the welcome post (R21) would fail on the missing flag.
    org = f"/v1/orgs/{practice.id}"
    on = {"settings": {"welcome_message": {"enabled": True, "text": "Welcome!"}}}
    assert api.patch(org, on, practice.admin_token).status == 200
    answer = api.patch(
        org, {"settings": {"welcome_message": {"text": "Hello"}}}, practice.admin_token
    )
    assert answer.status == 200
    assert answer.body["org"]["settings"]["welcome_message"] == {"enabled": True, "text": "Hello"}
    saved = org_settings(stored(Organization, practice.id, "org"))
    assert saved["welcome_message"] == {"enabled": True, "text": "Hello"}


def test_practice_sign_up_with_a_wrong_password_for_an_existing_login_is_throttled(
    api: Api, practice: Practice
) -> None:
    # R45: found undocumented: POST /v1/orgs answers 429 like a sign-in once an existing login's
    # email has failed too often; openapi.yaml now lists it.
    body: dict[str, Any] = {
        "name": "Second",
        "slug": "second",
        "admin": {
            "email": practice.admin_email,
            "password": "not the password",
            "first_name": "A",
            "last_name": "B",
        },
    }
    statuses = [api.post("/v1/orgs", body).status for _ in range(7)]
    assert statuses[0] == 401  # R51: a failed sign-in's answer
    assert statuses[-1] == 429
    body["admin"]["password"] = PASSWORD
    assert api.post("/v1/orgs", body).status == 429  # the window has not passed


def test_an_age_tier_without_scopes_is_stored_whole(api: Api, practice: Practice) -> None:
    # B4, API.md PATCH /v1/orgs/{org_id}. Found after the families merge: a tier sent without
    # `scopes` was stored without the key, so the answer broke the schema and the grant rules
    # read a tier with no scopes at all. An omitted `scopes` is null: every feature.
    tiers = [{"until_age": 12}, {"until_age": 18, "scopes": ["appointments"]}]
    answer = api.patch(
        f"/v1/orgs/{practice.id}",
        {"settings": {"caregiver_age_tiers": tiers}},
        practice.admin_token,
    )
    assert answer.status == 200, answer.body
    assert answer.body["org"]["settings"]["caregiver_age_tiers"] == [
        {"until_age": 12, "scopes": None},
        {"until_age": 18, "scopes": ["appointments"]},
    ]


def test_a_portal_settings_put_without_a_body_is_refused(api: Api, practice: Practice) -> None:
    # R35, API.md PUT …/portal-settings. Found after the families merge: a PUT with no body was
    # read as `{}` and reset every setting of the level to "not set". A PUT replaces what it
    # names, so a missing body is a 400 and the settings stay.
    path = f"/v1/orgs/{practice.id}/portal-settings"
    off = {"features": {"journal": False}}
    assert api.call("PUT", path, off, practice.admin_token).status == 200
    refused = api.call("PUT", path, token=practice.admin_token)
    assert refused.status == 400
    assert refused.body["error"]["details"][0]["field"] == "body"
    kept = api.get(path, practice.admin_token).body
    assert kept["own"]["features"]["journal"] is False
