"""Practices: sign-up, branding and settings, providers, groups and their invite links."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from chalicelib import aws
from chalicelib.models.orgs import Group, JoinCode, Organization
from chalicelib.services import records
from chalicelib.services.practices import orgs
from tests.support.api import (
    PASSWORD,
    Api,
    Practice,
    add_provider,
    give_password,
    login,
    sign_up_practice,
)
from tests.support.contract import assert_documented
from tests.support.join import Browser, code_of, make_group
from tests.support.records import identity_of, stored


def test_practice_sign_up_signs_the_admin_in(api: Api) -> None:
    # API.md POST /v1/orgs: the answer's token is already in the admin's staff account.
    practice = sign_up_practice(api, "sunrise")
    me = api.get("/v1/me", practice.admin_token).body
    assert me["account"]["kind"] == "staff"
    assert me["account"]["role"] == "admin"
    assert me["account"]["org"] == {
        "id": practice.id,
        "slug": "sunrise",
        "name": "Practice sunrise",
    }


def test_slugs_are_unique(api: Api, practice: Practice) -> None:
    # A practice's web address names one practice.
    answer = api.post(
        "/v1/orgs",
        {
            "name": "Copy",
            "slug": "sunrise",
            "admin": {
                "email": "a@b.example",
                "password": PASSWORD,
                "first_name": "A",
                "last_name": "B",
            },
        },
    )
    assert answer.status == 409
    assert answer.error_code() == "slug_taken"


def _sign_up(api: Api, slug: str, email: str, password: str = PASSWORD):
    return api.post(
        "/v1/orgs",
        {
            "name": f"Practice {slug}",
            "slug": slug,
            "admin": {"email": email, "password": password, "first_name": "A", "last_name": "B"},
        },
    )


def test_an_existing_login_creates_a_second_practice_with_its_own_password(api: Api, practice):
    # R1, R2: one email, one identity: a second practice joins the same login, never a new one.
    # R51: a wrong password answers exactly as a failed sign-in. R50: the password must be
    # proven (here the owner has used a link sent to the address).
    refused = _sign_up(api, "second", practice.admin_email, "wrong password")
    assert refused.status == 401
    assert refused.raw == login(api, "nobody@example.com", "wrong password").raw
    give_password(practice.admin_email)
    assert _sign_up(api, "second", practice.admin_email).status == 201
    accounts = login(api, practice.admin_email).body["accounts"]
    assert {a["org"]["slug"] for a in accounts} == {"sunrise", "second"}


def test_r50_a_sign_up_password_nobody_proved_cannot_add_a_practice_to_its_login(api, practice):
    # R50, R51: the password chosen at Sunrise's sign-up is unproven: it opens Sunrise only, so
    # it is not that login's password for a new practice; the answer is a failed sign-in's.
    refused = _sign_up(api, "second", practice.admin_email)
    assert refused.status == 401
    assert refused.error_code() == "invalid_credentials"
    assert_documented("POST", "/v1/orgs", refused)
    assert refused.raw == login(api, "nobody@example.com", "wrong password").raw
    assert {a["org"]["slug"] for a in login(api, practice.admin_email).body["accounts"]} == {
        "sunrise"
    }


def test_r51_a_taken_slug_is_answered_before_the_address_is_looked_at(api, practice):
    # R51: with a taken slug, a known address (right or wrong password) and an unknown one get
    # one answer, so the slug cannot be used to learn whether an address has a login.
    answers = [
        _sign_up(api, "sunrise", practice.admin_email, "wrong password"),
        _sign_up(api, "sunrise", practice.admin_email),
        _sign_up(api, "sunrise", "nobody@example.com"),
    ]
    assert {(a.status, a.raw) for a in answers} == {(answers[0].status, answers[0].raw)}
    assert answers[0].error_code() == "slug_taken"
    assert login(api, practice.admin_email).status == 200  # no failure was counted


def test_r50_a_new_addresss_sign_up_password_opens_only_its_practice(api, practice):
    # R50: the login a sign-up creates has an unproven password, bound to the new practice.
    assert identity_of(practice.admin_email).password_org_id == practice.id


def test_a_pending_login_cannot_be_claimed_by_a_practice_sign_up(api: Api, practice: Practice):
    # R1, R13: an invited client's login (no password yet) is not taken over by a sign-up; the
    # answer is a failed sign-in's (R51).
    api.post(
        f"/v1/orgs/{practice.id}/clients",
        {"first_name": "M", "last_name": "C", "email": "invited@example.com"},
        practice.admin_token,
    )
    answer = _sign_up(api, "mine", "invited@example.com")
    assert answer.status == 401
    assert answer.error_code() == "invalid_credentials"
    assert login(api, "invited@example.com").status == 401


def test_branding_and_settings_change_partially_with_defaults(api: Api, practice: Practice):
    # R9 groundwork: branding and settings are partial updates over documented defaults.
    org = api.get(f"/v1/orgs/{practice.id}", practice.admin_token).body["org"]
    assert org["settings"]["invite_ttl_days"] == 30
    assert org["settings"]["follow_up_days"] == [3, 7]
    assert org["branding"]["display_name"] == "Practice sunrise"
    changed = api.patch(
        f"/v1/orgs/{practice.id}",
        {
            "branding": {"primary_color": "#AA3300", "logo_url": "https://cdn.example/logo.png"},
            "settings": {"invite_ttl_days": 14},
        },
        practice.admin_token,
    ).body["org"]
    assert changed["branding"]["primary_color"] == "#aa3300"
    assert changed["branding"]["display_name"] == "Practice sunrise"
    assert changed["settings"]["invite_ttl_days"] == 14
    assert changed["settings"]["follow_up_days"] == [3, 7]
    again = api.patch(
        f"/v1/orgs/{practice.id}", {"branding": {"primary_color": None}}, practice.admin_token
    )
    assert again.body["org"]["branding"]["primary_color"] == "#2f6f5e"
    assert again.body["org"]["branding"]["logo_url"] == "https://cdn.example/logo.png"


def test_default_provider_must_be_a_provider_of_the_practice(api: Api, practice: Practice):
    # R10: the organization's default provider is one of its providers who can hold clients.
    desk = add_provider(api, practice, "desk", "staff")
    lee = add_provider(api, practice, "lee")
    bad = api.patch(
        f"/v1/orgs/{practice.id}",
        {"settings": {"default_provider_id": desk["id"]}},
        practice.admin_token,
    )
    assert bad.status == 400
    good = api.patch(
        f"/v1/orgs/{practice.id}",
        {"settings": {"default_provider_id": lee["id"]}},
        practice.admin_token,
    )
    assert good.body["org"]["settings"]["default_provider_id"] == lee["id"]


def test_providers_are_listed_with_their_roles(api: Api, practice: Practice) -> None:
    add_provider(api, practice, "lee")
    add_provider(api, practice, "desk", "staff")
    listed = api.get(f"/v1/orgs/{practice.id}/providers", practice.admin_token).body["providers"]
    assert sorted(p["role"] for p in listed) == ["admin", "provider", "staff"]


def test_a_person_is_staff_of_a_practice_once(api: Api, practice: Practice) -> None:
    add_provider(api, practice, "lee")
    answer = api.post(
        f"/v1/orgs/{practice.id}/providers",
        {"email": "lee@sunrise.example", "first_name": "L", "last_name": "P"},
        practice.admin_token,
    )
    assert answer.status == 409
    assert answer.error_code() == "already_staff"


def test_group_has_an_invite_link_that_rotation_replaces(api: Api, practice: Practice) -> None:
    # R16: each group has a shareable link; rotating it kills the old code.
    group = api.post(
        f"/v1/orgs/{practice.id}/groups",
        {
            "name": "Prenatal Yoga",
            "intake_forms": ["Health history"],
            "link_max_signups": 20,
            "link_expires_at": "2027-01-01T00:00:00Z",
        },
        practice.admin_token,
    ).body["group"]
    assert group["invite_url"].startswith("http://127.0.0.1:8000/join/")
    assert group["link_max_signups"] == 20
    old_code = group["invite_url"].rsplit("/", 1)[1]
    rotated = api.post(
        f"/v1/orgs/{practice.id}/groups/{group['id']}/invite-link", token=practice.admin_token
    )
    assert rotated.status == 200
    new_code = rotated.body["invite_url"].rsplit("/", 1)[1]
    assert new_code != old_code
    assert stored(JoinCode, JoinCode.key_for(old_code), "join").live is False
    assert stored(JoinCode, JoinCode.key_for(new_code), "join").live is True
    listed = api.get(f"/v1/orgs/{practice.id}/groups", practice.admin_token).body["groups"]
    assert [g["invite_url"] for g in listed] == [rotated.body["invite_url"]]


def test_group_changes_keep_what_they_do_not_name(api: Api, practice: Practice) -> None:
    group = api.post(
        f"/v1/orgs/{practice.id}/groups",
        {"name": "Yoga", "intake_forms": ["A"]},
        practice.admin_token,
    ).body["group"]
    changed = api.patch(
        f"/v1/orgs/{practice.id}/groups/{group['id']}",
        {"portal_settings": {"features": {"bills": False}}},
        practice.admin_token,
    ).body["group"]
    assert changed["name"] == "Yoga"
    assert changed["intake_forms"] == ["A"]
    assert changed["portal_settings"] == {"features": {"bills": False}}


def test_a_client_may_belong_to_a_group_of_the_same_practice_only(api: Api, practice: Practice):
    group = api.post(f"/v1/orgs/{practice.id}/groups", {"name": "Yoga"}, practice.admin_token).body[
        "group"
    ]
    other = sign_up_practice(api, "harbor")
    foreign = api.post(f"/v1/orgs/{other.id}/groups", {"name": "Theirs"}, other.admin_token).body[
        "group"
    ]
    ok = api.post(
        f"/v1/orgs/{practice.id}/clients",
        {"first_name": "A", "last_name": "B", "group_id": group["id"]},
        practice.admin_token,
    )
    assert ok.status == 201
    bad = api.post(
        f"/v1/orgs/{practice.id}/clients",
        {"first_name": "A", "last_name": "B", "group_id": foreign["id"]},
        practice.admin_token,
    )
    assert bad.status == 400


def test_practice_sign_up_cannot_be_used_to_guess_a_password(api: Api, practice: Practice):
    # R45: joining a login to a new practice checks its password, so it is throttled alike.
    def attempt(password: str, slug: str):
        return api.post(
            "/v1/orgs",
            {
                "name": "Guess",
                "slug": slug,
                "admin": {
                    "email": practice.admin_email,
                    "password": password,
                    "first_name": "G",
                    "last_name": "G",
                },
            },
        )

    for n in range(5):
        assert attempt(f"guess number {n}", f"guess-{n}").status == 401
    assert attempt(PASSWORD, "guess-right").status == 429
    assert login(api, practice.admin_email).status == 429


# Lost updates: a whole-item write whose read is stale answers 409 (issue #11) ---------------------
#
# The organization and group PATCHes read the item, change what the body names and write the
# whole item back. Both items carry a VersionAttribute, so that write holds only if nobody wrote
# the item since the read. A stale write answers 409 `concurrent_change` ("reload it and try
# again"), like every versioned write in Portico (a client profile's PATCH too), rather than being
# retried on the server: the other change may be one the admin must see first (a rotated link, a
# portal switched off), and the same PATCH sent again lands, over the item as it is now.


@contextmanager
def _reading(monkeypatch: pytest.MonkeyPatch, module: Any, name: str, stale: Any) -> Iterator[None]:
    """Within the block, `module.name` answers `stale`: the request's read happened before the
    other change committed."""
    with monkeypatch.context() as patched:
        patched.setattr(module, name, lambda *args: stale)
        yield


def test_r16_a_group_patch_read_before_a_rotation_cannot_bring_the_old_link_back(
    api: Api, practice: Practice, monkeypatch: pytest.MonkeyPatch
) -> None:
    # R16: rotating a group's link kills the old code for good. A PATCH that read the group
    # before the rotation must not write the old `link_code` back: it answers 409
    # `concurrent_change` (not a server-side retry: see above), the old /join/{code} stays dead
    # (410, replaced) and the new one works.
    group = make_group(api, practice)
    path = f"/v1/orgs/{practice.id}/groups/{group['id']}"
    old = code_of(group)
    stale = orgs.group_of(practice.id, group["id"])  # the PATCH reads the group ...
    rotated = api.post(f"{path}/invite-link", None, practice.admin_token)  # ... a rotation ...
    assert rotated.status == 200, rotated.body
    new = code_of(rotated.body["group"])
    with _reading(monkeypatch, orgs, "group_of", stale):  # ... then the PATCH writes
        answer = api.patch(path, {"name": "Back pain, evenings"}, practice.admin_token)
    assert (answer.status, answer.error_code()) == (409, "concurrent_change"), answer.body
    assert_documented("PATCH", "/v1/orgs/{org_id}/groups/{group_id}", answer)
    saved = stored(Group, practice.id, Group.sk_for(group["id"]))
    assert (saved.link_code, saved.name) == (new, "Back pain")
    listed = api.get(f"/v1/orgs/{practice.id}/groups", practice.admin_token).body["groups"]
    assert [code_of(g) for g in listed] == [new]
    dead = Browser(api).get(f"/join/{old}")
    assert dead.status == 410
    assert b"replaced" in dead.raw
    assert Browser(api).get(f"/join/{new}").status == 200
    again = api.patch(path, {"name": "Back pain, evenings"}, practice.admin_token)  # reloaded
    assert again.status == 200, again.body
    assert (again.body["group"]["name"], code_of(again.body["group"])) == (
        "Back pain, evenings",
        new,
    )
    assert Browser(api).get(f"/join/{new}").status == 200
    assert Browser(api).get(f"/join/{old}").status == 410


def test_r16_a_rotation_read_before_a_group_patch_answers_409_and_kills_no_link(
    api: Api, practice: Practice, monkeypatch: pytest.MonkeyPatch
) -> None:
    # R16 the other way round: a rotation that read the group before a PATCH committed must not
    # write the PATCH's fields back to what it read. It answers 409 `concurrent_change` whole:
    # the old code stays the live one and the PATCH is kept.
    group = make_group(api, practice)
    path = f"/v1/orgs/{practice.id}/groups/{group['id']}"
    code = code_of(group)
    stale = orgs.group_of(practice.id, group["id"])  # the rotation reads the group ...
    patched = api.patch(path, {"name": "Evenings"}, practice.admin_token)  # ... a PATCH ...
    assert patched.status == 200, patched.body
    with _reading(monkeypatch, orgs, "group_of", stale):  # ... then the rotation writes
        answer = api.post(f"{path}/invite-link", None, practice.admin_token)
    assert (answer.status, answer.error_code()) == (409, "concurrent_change"), answer.body
    assert_documented("POST", "/v1/orgs/{org_id}/groups/{group_id}/invite-link", answer)
    saved = stored(Group, practice.id, Group.sk_for(group["id"]))
    assert (saved.link_code, saved.name) == (code, "Evenings")
    assert stored(JoinCode, JoinCode.key_for(code), "join").live is True
    assert Browser(api).get(f"/join/{code}").status == 200
    again = api.post(f"{path}/invite-link", None, practice.admin_token)  # reloaded
    assert again.status == 200, again.body
    assert again.body["group"]["name"] == "Evenings"
    assert Browser(api).get(f"/join/{code}").status == 410


@pytest.mark.parametrize(
    "other_change",
    [
        # R35: another admin switches a portal feature off (portal_levels, its own writer).
        ("PUT", "/portal-settings", {"features": {"appointments": False}}),
        # R9: another admin's organization PATCH.
        ("PATCH", "", {"settings": {"invite_ttl_days": 14}}),
    ],
    ids=["portal_settings", "settings"],
)
def test_an_org_patch_read_before_another_change_answers_409_and_loses_nothing(
    api: Api, practice: Practice, monkeypatch: pytest.MonkeyPatch, other_change: tuple
) -> None:
    # API.md (409 `concurrent_change`, never a lost write): an organization PATCH that read the
    # organization before another change committed does not write the old item back over it.
    method, suffix, body = other_change
    path = f"/v1/orgs/{practice.id}"
    stale = records.org(practice.id)  # the PATCH reads the organization ...
    other = api.call(method, path + suffix, body, practice.admin_token)  # ... another change ...
    assert other.status == 200, other.body
    with _reading(monkeypatch, records, "org", stale):  # ... then the PATCH writes
        answer = api.patch(path, {"name": "Sunrise Wellness"}, practice.admin_token)
    assert (answer.status, answer.error_code()) == (409, "concurrent_change"), answer.body
    assert_documented("PATCH", "/v1/orgs/{org_id}", answer)

    def kept(org: Organization) -> None:
        assert org.portal_settings == (body if suffix else {})
        assert org.settings.get("invite_ttl_days") == (None if suffix else 14)

    saved = stored(Organization, practice.id, "org")
    assert saved.name == "Practice sunrise"
    kept(saved)
    again = api.patch(path, {"name": "Sunrise Wellness"}, practice.admin_token)  # reloaded
    assert again.status == 200, again.body
    saved = stored(Organization, practice.id, "org")
    assert saved.name == "Sunrise Wellness"
    kept(saved)


def test_orgs_and_groups_stored_before_versions_are_still_updatable(
    api: Api, practice: Practice
) -> None:
    # Items written before the version attribute existed have none; every writer still takes
    # them (a missing version is the version of an item never written under one).
    group = make_group(api, practice)
    table = aws.client("dynamodb")
    for sk in ("org", Group.sk_for(group["id"])):
        table.update_item(
            TableName=Organization.Meta.table_name,
            Key={"org_id": {"S": practice.id}, "sk": {"S": sk}},
            UpdateExpression="REMOVE version",
        )
    path = f"/v1/orgs/{practice.id}"
    assert api.patch(path, {"name": "Sunrise Wellness"}, practice.admin_token).status == 200
    put = api.call("PUT", f"{path}/portal-settings", {"login_enabled": True}, practice.admin_token)
    assert put.status == 200, put.body
    group_path = f"{path}/groups/{group['id']}"
    assert api.patch(group_path, {"name": "Evenings"}, practice.admin_token).status == 200
    table.update_item(
        TableName=Organization.Meta.table_name,
        Key={"org_id": {"S": practice.id}, "sk": {"S": Group.sk_for(group["id"])}},
        UpdateExpression="REMOVE version",
    )
    rotated = api.post(f"{group_path}/invite-link", None, practice.admin_token)
    assert rotated.status == 200, rotated.body
    assert Browser(api).get(f"/join/{code_of(rotated.body['group'])}").status == 200
    assert stored(Organization, practice.id, "org").name == "Sunrise Wellness"
    assert stored(Group, practice.id, Group.sk_for(group["id"])).name == "Evenings"
