"""Adding and changing clients (R5, R8, R10–R12, R19, R38) and staff roles."""

from __future__ import annotations

from typing import Any

import botocore.client
import pytest

from chalicelib.models.profiles import ClientProfile
from chalicelib.services.identity import identities
from tests.support.api import (
    PASSWORD,
    Api,
    Practice,
    add_provider,
    give_password,
    login,
    sign_up_practice,
)
from tests.support.records import identity_of, stored

MAYA = "maya@example.com"


def clients_path(practice: Practice) -> str:
    return f"/v1/orgs/{practice.id}/clients"


def create(api: Api, practice: Practice, token: str | None = None, **body: object):
    full = {"first_name": "Maya", "last_name": "Chen", **body}
    return api.post(clients_path(practice), full, token or practice.admin_token)


def staff_token(api: Api, practice: Practice, name: str, role: str = "provider") -> str:
    provider = add_provider(api, practice, name, role)
    give_password(provider["email"])
    answer = login(api, provider["email"])
    assert answer.body["account"]["kind"] == "staff", answer.body
    return answer.body["token"]


# R10: primary provider and care team --------------------------------------------------------


def test_provider_who_adds_a_client_becomes_its_primary_provider(api: Api, practice: Practice):
    # R10: a provider who adds a client gets it by default.
    add_provider(api, practice, "second")
    token = staff_token(api, practice, "lee")
    answer = create(api, practice, token)
    assert answer.status == 201
    assert answer.body["client"]["primary_provider_id"] == practice.providers["lee"]["id"]


def test_admin_of_a_one_provider_practice_gets_the_client(api: Api, practice: Practice):
    # R10: with a single provider (here the admin) that provider is the default.
    answer = create(api, practice)
    assert answer.status == 201
    admin_id = api.get(f"/v1/orgs/{practice.id}/providers", practice.admin_token).body["providers"][
        0
    ]["id"]
    assert answer.body["client"]["primary_provider_id"] == admin_id


@pytest.mark.parametrize("role", ["admin", "staff"])
def test_admin_or_staff_must_name_one_of_several_providers(api: Api, practice: Practice, role):
    # R10: in an organization with several providers an admin or staff member must name one.
    add_provider(api, practice, "lee")
    token = practice.admin_token if role == "admin" else staff_token(api, practice, "desk", "staff")
    answer = create(api, practice, token)
    assert answer.status == 400
    assert answer.body["error"]["details"][0]["field"] == "primary_provider_id"
    named = create(api, practice, token, primary_provider_id=practice.providers["lee"]["id"])
    assert named.status == 201


def test_staff_role_cannot_be_a_primary_provider(api: Api, practice: Practice) -> None:
    # R10: roles admin and provider can be primary providers; staff cannot.
    desk = add_provider(api, practice, "desk", "staff")
    answer = create(api, practice, primary_provider_id=desk["id"])
    assert answer.status == 400
    assert answer.body["error"]["details"][0]["field"] == "primary_provider_id"


def test_care_team_holds_other_providers_of_the_same_practice(api: Api, practice: Practice):
    # R10: care team members are other providers of the same organization.
    lee, kim = add_provider(api, practice, "lee"), add_provider(api, practice, "kim")
    elsewhere = sign_up_practice(api, "harbor")
    stranger = add_provider(api, elsewhere, "stranger")
    ok = create(api, practice, primary_provider_id=lee["id"], care_team=[kim["id"]])
    assert ok.status == 201
    assert ok.body["client"]["care_team"] == [kim["id"]]
    for team in ([stranger["id"]], [lee["id"]], [kim["id"], kim["id"]]):
        bad = create(api, practice, primary_provider_id=lee["id"], care_team=team)
        assert bad.status == 400, team
        assert bad.body["error"]["details"][0]["field"].startswith("care_team")


def test_primary_provider_of_another_practice_is_refused(api: Api, practice: Practice) -> None:
    # R4, R10: an id from another organization is answered as unknown.
    elsewhere = sign_up_practice(api, "harbor")
    stranger = add_provider(api, elsewhere, "stranger")
    answer = create(api, practice, primary_provider_id=stranger["id"])
    assert answer.status == 400
    assert "No provider with this id" in answer.body["error"]["details"][0]["message"]


def test_client_type_follows_date_of_birth_unless_given(api: Api, practice: Practice) -> None:
    # R10: client type adult/minor; a child's date of birth makes a minor by default.
    child = create(api, practice, dob="2019-05-01")
    assert child.body["client"]["client_type"] == "minor"
    assert child.body["client"]["dob"] == "2019-05-01"
    told = create(api, practice, first_name="Ann", dob="2019-05-01", client_type="adult")
    assert told.body["client"]["client_type"] == "adult"


# R11: no email ---------------------------------------------------------------------------------


def test_client_without_email_gets_no_invite_and_no_portal(api: Api, practice: Practice):
    # R11: such a profile gets no invite and no portal access, and the answer says so.
    answer = create(api, practice)
    client = answer.body["client"]
    assert client["email"] is None
    assert client["portal_access"] is False
    assert client["invite"]["status"] == "not_sent"
    assert client["invite"]["reason"] == "no_email"
    later = api.patch(
        f"{clients_path(practice)}/{client['id']}", {"email": MAYA}, practice.admin_token
    )
    assert later.status == 200
    assert later.body["client"]["portal_access"] is True
    assert identities.find_by_email(MAYA) is not None


def test_answer_says_what_became_of_the_invite(api: Api, practice: Practice) -> None:
    # R13, B1: the answer tells staff plainly whether an invite went out.
    sent = create(api, practice, email=MAYA).body["client"]["invite"]
    declined = create(api, practice, email="b@example.com", send_invite=False).body["client"]
    assert (sent["status"], sent["reason"]) == ("pending", None)
    assert (declined["invite"]["status"], declined["invite"]["reason"]) == (
        "not_sent",
        "not_requested",
    )


# R12: one active profile per email per practice -------------------------------------------------


def test_email_of_an_active_client_is_refused_naming_the_conflict(api: Api, practice: Practice):
    # R12: 409 naming the client that already uses the email.
    first = create(api, practice, email=MAYA).body["client"]
    again = create(api, practice, first_name="Other", email="  MAYA@Example.com ")
    assert again.status == 409
    assert again.error_code() == "email_in_use"
    assert again.body["error"]["conflicting_client_ids"] == [first["id"]]


def test_family_members_may_share_an_email_when_the_request_says_so(api: Api, practice: Practice):
    # R1, R12: family members sharing an email get profiles of one identity in one practice.
    parent = create(api, practice, email=MAYA).body["client"]
    child = create(api, practice, first_name="Leo", email=MAYA, shared_email=True)
    assert child.status == 201
    profiles = [stored(ClientProfile, practice.id, c["id"]) for c in (parent, child.body["client"])]
    assert profiles[0].identity_id == profiles[1].identity_id
    give_password(MAYA)
    assert len(login(api, MAYA).body["accounts"]) == 2


def test_staff_email_is_refused_for_a_client_of_the_same_practice(api: Api, practice: Practice):
    # R12: a staff address cannot be a client of that organization; the message says why.
    answer = create(api, practice, email=practice.admin_email)
    assert answer.status == 409
    assert answer.error_code() == "email_is_staff"
    assert "staff account" in answer.body["error"]["message"]


def test_client_email_is_refused_for_new_staff_of_the_same_practice(api: Api, practice: Practice):
    # R12, the other way round: a client's address cannot become staff of that practice.
    create(api, practice, email=MAYA)
    answer = api.post(
        f"/v1/orgs/{practice.id}/providers",
        {"email": MAYA, "first_name": "M", "last_name": "C", "role": "staff"},
        practice.admin_token,
    )
    assert answer.status == 409
    assert answer.error_code() == "email_is_client"


def test_archiving_frees_the_email_and_unarchiving_respects_it(api: Api, practice: Practice):
    # R12, R38: only active profiles hold an email; unarchive refuses if it is taken meanwhile.
    old = create(api, practice, email=MAYA).body["client"]
    api.post(f"{clients_path(practice)}/{old['id']}/archive", token=practice.admin_token)
    new = create(api, practice, first_name="New", email=MAYA)
    assert new.status == 201
    back = api.post(f"{clients_path(practice)}/{old['id']}/unarchive", token=practice.admin_token)
    assert back.status == 409
    assert back.error_code() == "email_in_use"
    api.post(
        f"{clients_path(practice)}/{new.body['client']['id']}/archive", token=practice.admin_token
    )
    back = api.post(f"{clients_path(practice)}/{old['id']}/unarchive", token=practice.admin_token)
    assert back.status == 200
    assert back.body["client"]["status"] == "active"


# R38: archive, never delete --------------------------------------------------------------------


def test_archived_clients_leave_the_default_list_but_are_kept(api: Api, practice: Practice):
    # R38: hidden from the default list, shown with status=archived or all, still readable.
    keep = create(api, practice, first_name="Keep").body["client"]
    gone = create(api, practice, first_name="Gone").body["client"]
    answer = api.post(f"{clients_path(practice)}/{gone['id']}/archive", token=practice.admin_token)
    assert answer.body["client"]["status"] == "archived"
    assert answer.body["client"]["archived_at"]

    def listed(query: str) -> list[str]:
        return [
            c["id"]
            for c in api.get(clients_path(practice) + query, practice.admin_token).body["clients"]
        ]

    assert listed("") == [keep["id"]]
    assert listed("?status=archived") == [gone["id"]]
    assert sorted(listed("?status=all")) == sorted([keep["id"], gone["id"]])
    assert api.get(f"{clients_path(practice)}/{gone['id']}", practice.admin_token).status == 200


def test_archived_clients_cannot_be_changed_until_unarchived(api: Api, practice: Practice):
    # R38: an archived profile is frozen; unarchive first (a message says so).
    client = create(api, practice).body["client"]
    path = f"{clients_path(practice)}/{client['id']}"
    api.post(f"{path}/archive", token=practice.admin_token)
    answer = api.patch(path, {"first_name": "Changed"}, practice.admin_token)
    assert answer.status == 409
    assert answer.error_code() == "client_archived"


# Listing -----------------------------------------------------------------------------------------


def test_client_list_pages_in_name_order_with_cursors(api: Api, practice: Practice) -> None:
    # API.md paging: every client once, in name order, across pages of `limit`.
    for last in ("Zed", "Abe", "Moss", "Kay", "Bell"):
        create(api, practice, last_name=last)
    seen, cursor = [], None
    while True:
        query = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = api.get(clients_path(practice) + query, practice.admin_token).body
        assert len(page["clients"]) <= 2
        seen += [c["last_name"] for c in page["clients"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ["Abe", "Bell", "Kay", "Moss", "Zed"]


def test_a_cursor_of_another_list_is_refused(api: Api, practice: Practice) -> None:
    # R4: a cursor cannot be pointed at another organization's partition.
    elsewhere = sign_up_practice(api, "harbor")
    for n in range(3):
        create(api, elsewhere, last_name=f"Other{n}", token=elsewhere.admin_token)
    cursor = api.get(clients_path(elsewhere) + "?limit=1", elsewhere.admin_token).body[
        "next_cursor"
    ]
    answer = api.get(clients_path(practice) + f"?cursor={cursor}", practice.admin_token)
    assert answer.status == 400
    assert answer.body["error"]["details"][0]["field"] == "cursor"


def test_client_list_filters_by_primary_provider(api: Api, practice: Practice) -> None:
    # R10: staff see the clients of one provider.
    lee, kim = add_provider(api, practice, "lee"), add_provider(api, practice, "kim")
    create(api, practice, last_name="OfLee", primary_provider_id=lee["id"])
    create(api, practice, last_name="OfKim", primary_provider_id=kim["id"])
    answer = api.get(clients_path(practice) + f"?provider_id={lee['id']}", practice.admin_token)
    assert [c["last_name"] for c in answer.body["clients"]] == ["OfLee"]


# R5, R19: changes stay in one practice ------------------------------------------------------------


def test_changes_in_one_practice_never_touch_another(api: Api, practice: Practice) -> None:
    # R5: names, archive and email of one organization's profile leave the other's alone.
    harbor = sign_up_practice(api, "harbor")
    here = create(api, practice, email=MAYA).body["client"]
    there = create(api, harbor, email=MAYA, token=harbor.admin_token).body["client"]
    before = stored(ClientProfile, harbor.id, there["id"]).attribute_values
    path = f"{clients_path(practice)}/{here['id']}"
    api.patch(path, {"first_name": "Renamed", "phone": "+1 555 0100"}, practice.admin_token)
    api.patch(path, {"email": "maya.new@example.com"}, practice.admin_token)
    api.post(f"{path}/archive", token=practice.admin_token)
    assert stored(ClientProfile, harbor.id, there["id"]).attribute_values == before


def test_changing_email_moves_the_profile_to_the_new_login(api: Api, practice: Practice):
    # R5, R19: the profile moves to the identity of the new email; the old login keeps the rest.
    harbor = sign_up_practice(api, "harbor")
    here = create(api, practice, email=MAYA).body["client"]
    create(api, harbor, email=MAYA, token=harbor.admin_token)
    give_password(MAYA)
    old_identity = identity_of(MAYA)
    moved = api.patch(
        f"{clients_path(practice)}/{here['id']}",
        {"email": "maya@work.example"},
        practice.admin_token,
    )
    assert moved.status == 200
    assert moved.body["client"]["email"] == "maya@work.example"
    new_identity = identity_of("maya@work.example")
    assert stored(ClientProfile, practice.id, here["id"]).identity_id == new_identity.id
    assert new_identity.id != old_identity.id
    assert identity_of(MAYA).password_hash == old_identity.password_hash
    accounts = login(api, MAYA).body
    assert [a["org"]["slug"] for a in accounts["accounts"]] == ["harbor"]


def test_email_change_ends_the_old_logins_sessions_in_that_account(api: Api, practice: Practice):
    # R5, R46: after the profile moves, the old identity's session inside it stops working.
    client = create(api, practice, email=MAYA).body["client"]
    give_password(MAYA)
    token = login(api, MAYA).body["token"]
    assert api.get("/v1/me", token).status == 200
    api.patch(
        f"{clients_path(practice)}/{client['id']}",
        {"email": "new@example.com"},
        practice.admin_token,
    )
    assert api.get("/v1/me", token).status == 401


def test_email_change_to_an_address_in_use_is_refused(api: Api, practice: Practice) -> None:
    # R12, R19: moving to an address another active client holds is a conflict, nothing changes.
    create(api, practice, email=MAYA)
    other = create(api, practice, first_name="Sam", email="sam@example.com").body["client"]
    answer = api.patch(
        f"{clients_path(practice)}/{other['id']}", {"email": MAYA}, practice.admin_token
    )
    assert answer.status == 409
    assert stored(ClientProfile, practice.id, other["id"]).email == "sam@example.com"


def test_required_fields_cannot_be_cleared(api: Api, practice: Practice) -> None:
    # R10: every client keeps names and a primary provider.
    client = create(api, practice).body["client"]
    for field in ("first_name", "primary_provider_id"):
        answer = api.patch(
            f"{clients_path(practice)}/{client['id']}", {field: None}, practice.admin_token
        )
        assert answer.status == 400
        assert answer.body["error"]["details"][0]["field"] == field


# R4: adding a client whose address has a login elsewhere ----------------------------------------


def _calls_of_adding(
    api: Api, practice: Practice, email: str, monkeypatch
) -> list[tuple[str, int]]:
    """The DynamoDB calls that adding a client makes, with each transaction's item count."""
    calls: list[tuple[str, int]] = []
    original = botocore.client.BaseClient._make_api_call

    def recording(self: Any, operation: str, params: dict[str, Any]) -> Any:
        if self.meta.service_model.service_name == "dynamodb":
            calls.append((operation, len(params.get("TransactItems", []))))
        return original(self, operation, params)

    with monkeypatch.context() as patched:
        patched.setattr(botocore.client.BaseClient, "_make_api_call", recording)
        answer = create(api, practice, email=email, send_invite=True)
    assert answer.status == 201, answer.body
    return calls


def test_r4_adding_a_client_whose_address_has_a_login_elsewhere_costs_what_a_new_one_does(
    api: Api, practice: Practice, monkeypatch: pytest.MonkeyPatch
) -> None:
    # R4: no timing difference may tell staff that an address has profiles elsewhere: the same
    # round trips, in the same order, with as many items in the transaction.
    harbor = sign_up_practice(api, "harbor")
    create(api, harbor, email=MAYA, token=harbor.admin_token)
    give_password(MAYA)
    # The two addresses start alike: a client's search entries (R55) follow the first letters
    # of its email, whether or not the address has a login.
    new = _calls_of_adding(api, practice, "maya@example.org", monkeypatch)
    known = _calls_of_adding(api, practice, MAYA, monkeypatch)
    assert known == new
    assert any(op == "TransactWriteItems" and items > 1 for op, items in new)


# R8: an admin sets a password only where the client last was ------------------------------------


SET_BY_ADMIN = "a new secret"


def _set_password(api: Api, practice: Practice, client_id: str, password: str = SET_BY_ADMIN):
    return api.post(
        f"{clients_path(practice)}/{client_id}/password",
        {"password": password},
        practice.admin_token,
    )


def test_admin_sets_password_only_while_their_practice_is_the_last_one(api: Api, practice):
    # R8: refused while the client's last organization is another one, even with every record
    # of the login here (Maya's login was made by Sunrise's profile, since moved to another
    # address, R5); allowed once she has entered Harbor.
    harbor = sign_up_practice(api, "harbor")
    here = create(api, practice, email=MAYA).body["client"]
    patched = api.patch(
        f"{clients_path(practice)}/{here['id']}",
        {"email": "maya.new@example.com"},
        practice.admin_token,
    )
    assert patched.status == 200
    there = create(api, harbor, email=MAYA, token=harbor.admin_token).body["client"]
    assert identity_of(MAYA).last_org_id == practice.id

    refused = _set_password(api, harbor, there["id"])
    assert refused.status == 409
    assert refused.error_code() == "password_owned_elsewhere"
    assert "password-reset" in refused.body["error"]["message"]

    give_password(MAYA)
    assert login(api, MAYA).body["account"]["org"]["slug"] == "harbor"  # entered: last org
    assert _set_password(api, harbor, there["id"]).status == 200
    assert login(api, MAYA, "a new secret").status == 200
    assert login(api, MAYA, PASSWORD).status == 401


def test_r8_refused_while_the_login_has_an_account_in_another_practice(api: Api, practice):
    # R8, R4: Maya last entered Harbor, but her login also holds a Sunrise profile: Harbor's
    # admin is refused with the very answer a last-organization refusal gets, so the admin
    # learns nothing more than R8 says.
    harbor = sign_up_practice(api, "harbor")
    here = create(api, practice, email=MAYA).body["client"]
    there = create(api, harbor, email=MAYA, token=harbor.admin_token).body["client"]
    give_password(MAYA)
    first = login(api, MAYA).body
    target = next(a for a in first["accounts"] if a["org"]["slug"] == "harbor")
    api.post("/v1/auth/switch", {"account_id": target["account_id"]}, first["token"])
    assert identity_of(MAYA).last_org_id == harbor.id

    from_harbor = _set_password(api, harbor, there["id"])
    from_sunrise = _set_password(api, practice, here["id"])
    assert from_harbor.status == from_sunrise.status == 409
    assert from_harbor.raw == from_sunrise.raw
    assert login(api, MAYA).status == 200  # unchanged


def test_r8_an_admin_of_their_own_practice_who_last_used_anothers_portal_is_refused(
    api: Api, practice: Practice
) -> None:
    # R8, R50 (issue #12's second variant): the owner of Harbor is a client of Sunrise and last
    # used Sunrise's portal; Sunrise's admin may not set the password that opens Harbor.
    harbor = sign_up_practice(api, "harbor", admin_email=MAYA)
    give_password(MAYA)  # Harbor's owner proved the mailbox: her password opens both
    client = create(api, practice, email=MAYA, send_invite=False).body["client"]
    first = login(api, MAYA).body
    target = next(a for a in first["accounts"] if a["org"]["slug"] == "sunrise")
    api.post("/v1/auth/switch", {"account_id": target["account_id"]}, first["token"])
    assert identity_of(MAYA).last_org_id == practice.id

    refused = _set_password(api, practice, client["id"], "the strangers password")
    assert refused.status == 409
    assert refused.error_code() == "password_owned_elsewhere"
    assert login(api, MAYA, "the strangers password").status == 401
    assert harbor.id in {a["org"]["id"] for a in login(api, MAYA).body["accounts"]}


def test_r8_r50_a_password_set_by_an_admin_opens_only_that_practice(api: Api, practice):
    # R50: the password Sunrise's admin set is unproven: a Harbor account added to the login
    # afterwards is not opened by it (an account added between R8's check and its write would
    # not be either).
    client = create(api, practice, email=MAYA, send_invite=False).body["client"]
    assert _set_password(api, practice, client["id"]).status == 200
    assert identity_of(MAYA).password_org_id == practice.id
    harbor = sign_up_practice(api, "harbor")
    create(api, harbor, email=MAYA, token=harbor.admin_token, send_invite=False)
    accounts = login(api, MAYA, "a new secret").body["accounts"]
    assert {a["org"]["slug"] for a in accounts} == {"sunrise"}


def test_setting_a_password_ends_the_clients_sessions(api: Api, practice: Practice) -> None:
    # R46: a password change ends the identity's other sessions.
    client = create(api, practice, email=MAYA).body["client"]
    give_password(MAYA)
    token = login(api, MAYA).body["token"]
    answer = api.post(
        f"{clients_path(practice)}/{client['id']}/password",
        {"password": "brand new pass"},
        practice.admin_token,
    )
    assert answer.status == 200
    assert api.get("/v1/me", token).status == 401


def test_only_admins_set_client_passwords(api: Api, practice: Practice) -> None:
    # R8: the admin of the organization; providers are refused by role.
    client = create(api, practice, email=MAYA).body["client"]
    token = staff_token(api, practice, "lee")
    answer = api.post(
        f"{clients_path(practice)}/{client['id']}/password", {"password": "whatever1"}, token
    )
    assert answer.status == 403
    assert answer.error_code() == "role_not_allowed"


def test_client_without_email_has_no_password_to_set(api: Api, practice: Practice) -> None:
    # R8, R11: no email, no login.
    client = create(api, practice).body["client"]
    answer = api.post(
        f"{clients_path(practice)}/{client['id']}/password",
        {"password": "whatever1"},
        practice.admin_token,
    )
    assert answer.status == 409
    assert answer.error_code() == "no_login"


# Roles ------------------------------------------------------------------------------------------


def test_clients_cannot_call_staff_routes(api: Api, practice: Practice) -> None:
    # R2, R4: a session inside a client account is refused on every staff route of its practice.
    create(api, practice, email=MAYA)
    give_password(MAYA)
    token = login(api, MAYA).body["token"]
    for method, path in (
        ("GET", clients_path(practice)),
        ("GET", f"/v1/orgs/{practice.id}"),
        ("GET", f"/v1/orgs/{practice.id}/providers"),
    ):
        answer = api.call(method, path, token=token)
        assert answer.status == 403
        assert answer.error_code() == "staff_only"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PATCH", "/v1/orgs/{org}", {"name": "Mine now"}),
        (
            "POST",
            "/v1/orgs/{org}/providers",
            {"email": "x@example.com", "first_name": "X", "last_name": "Y"},
        ),
        ("POST", "/v1/orgs/{org}/groups", {"name": "Yoga"}),
    ],
)
def test_only_admins_change_the_practice(api: Api, practice: Practice, method, path, body):
    # Roles: providers and staff manage clients, admins manage the practice.
    token = staff_token(api, practice, "lee")
    answer = api.call(method, path.format(org=practice.id), body, token)
    assert answer.status == 403
    assert answer.error_code() == "role_not_allowed"


def test_an_email_change_that_races_a_new_login_is_retried_from_the_start(
    api: Api, practice: Practice, monkeypatch: pytest.MonkeyPatch
) -> None:
    # R1, R19: another request creates the login of the new email between our read and our
    # write; the change runs again, joins that login, and the profile ends on it.
    client = create(api, practice, email=MAYA).body["client"]
    real_find = identities.find_by_email
    raced: list[str] = []

    def find_then_lose_the_race(email: str):
        found = real_find(email)
        if email == "new@example.com" and not raced:
            raced.append(email)
            other = sign_up_practice(api, "racer", admin_email=email)  # creates the login now
            assert other.id
        return found

    monkeypatch.setattr(identities, "find_by_email", find_then_lose_the_race)
    answer = api.patch(
        f"{clients_path(practice)}/{client['id']}",
        {"email": "new@example.com"},
        practice.admin_token,
    )
    assert answer.status == 200, answer.body
    profile = stored(ClientProfile, practice.id, client["id"])
    assert profile.email == "new@example.com"
    new_login = real_find("new@example.com")
    assert new_login is not None
    assert profile.identity_id == new_login.id
    assert stored(ClientProfile, practice.id, client["id"]).shared_email is False
