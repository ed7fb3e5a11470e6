"""One identity, many accounts: sign-in, choosing, switching, sessions (R1–R3, R45, R46)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib import clock, db, ids
from chalicelib.models.emails import EmailJob
from chalicelib.models.identities import Identity
from chalicelib.models.sessions import Session
from chalicelib.services.identity import identities
from tests.support.api import (
    PASSWORD,
    Api,
    Practice,
    give_password,
    login,
    sign_up_practice,
)
from tests.support.invites import invite_path, link_path, open_page, session_of, submit
from tests.support.records import identity_of, sealed_link

MAYA = "maya@example.com"


def add_client(api: Api, practice: Practice, email: str | None, **extra: object) -> dict:
    body = {"first_name": "Maya", "last_name": "Chen", "email": email, **extra}
    answer = api.post(f"/v1/orgs/{practice.id}/clients", body, practice.admin_token)
    assert answer.status == 201, answer.body
    return answer.body["client"]


@pytest.fixture
def two_practices(api: Api) -> tuple[Practice, Practice]:
    return sign_up_practice(api, "sunrise"), sign_up_practice(api, "harbor")


def kinds_and_orgs(accounts: list[dict]) -> set[tuple[str, str]]:
    return {(a["kind"], a["org"]["slug"]) for a in accounts}


def test_one_login_lists_client_accounts_at_two_practices(api: Api, two_practices) -> None:
    # R1, R2: one identity owns profiles in two organizations; sign-in lists both, enters none.
    sunrise, harbor = two_practices
    add_client(api, sunrise, MAYA)
    add_client(api, harbor, MAYA)
    give_password(MAYA)
    answer = login(api, MAYA)
    assert answer.status == 200
    assert answer.body["account"] is None
    assert kinds_and_orgs(answer.body["accounts"]) == {("client", "sunrise"), ("client", "harbor")}


def test_single_account_is_entered_and_becomes_last_org(api: Api, two_practices) -> None:
    # R2, R3: with exactly one account it is entered, and recorded as the last organization.
    sunrise, harbor = two_practices
    add_client(api, harbor, MAYA)
    add_client(api, sunrise, "other@example.com")
    give_password(MAYA)
    answer = login(api, MAYA)
    assert answer.body["account"]["org"]["slug"] == "harbor"
    assert identity_of(MAYA).last_org_id == harbor.id


def test_new_identity_last_org_is_the_creating_practice(api: Api, two_practices) -> None:
    # R3: a new identity's last organization is the one whose profile created it.
    sunrise, harbor = two_practices
    add_client(api, harbor, MAYA)
    add_client(api, sunrise, MAYA)
    assert identity_of(MAYA).last_org_id == harbor.id


def test_profile_added_for_a_login_with_password_is_listed_at_once(api: Api, two_practices):
    # R2: a profile added for an identity that already has a password is in its list at once.
    sunrise, harbor = two_practices
    add_client(api, sunrise, MAYA)
    give_password(MAYA)
    assert len(login(api, MAYA).body["accounts"]) == 1
    add_client(api, harbor, MAYA)
    assert len(login(api, MAYA).body["accounts"]) == 2


def test_switch_enters_another_account_without_password(api: Api, two_practices) -> None:
    # R3: switching needs no password, records the last organization, retires the old token.
    sunrise, harbor = two_practices
    add_client(api, sunrise, MAYA)
    add_client(api, harbor, MAYA)
    give_password(MAYA)
    first = login(api, MAYA).body
    target = next(a for a in first["accounts"] if a["org"]["slug"] == "harbor")
    switched = api.post("/v1/auth/switch", {"account_id": target["account_id"]}, first["token"])
    assert switched.status == 200
    assert switched.body["account"] == target
    me = api.get("/v1/me", switched.body["token"])
    assert me.body["account"] == target
    assert me.body["identity"]["email"] == MAYA
    assert identity_of(MAYA).last_org_id == harbor.id
    assert api.get("/v1/me", first["token"]).status == 401
    back = next(a for a in first["accounts"] if a["org"]["slug"] == "sunrise")
    again = api.post("/v1/auth/switch", {"account_id": back["account_id"]}, switched.body["token"])
    assert again.body["account"] == back
    assert identity_of(MAYA).last_org_id == sunrise.id


def test_staff_at_one_practice_and_client_at_another_sign_in_once(api: Api, two_practices):
    # R2, R12: staff of one practice may be a client of another; one login lists both.
    sunrise, harbor = two_practices
    add_client(api, harbor, sunrise.admin_email)
    give_password(sunrise.admin_email)  # R50: proven, it opens the accounts of both
    answer = login(api, sunrise.admin_email)
    assert answer.body["account"] is None
    assert kinds_and_orgs(answer.body["accounts"]) == {("staff", "sunrise"), ("client", "harbor")}
    staff = next(a for a in answer.body["accounts"] if a["kind"] == "staff")
    assert staff["role"] == "admin"


def test_before_choosing_a_session_can_only_list_switch_and_sign_out(api: Api, two_practices):
    # R2: until an account is entered, the session reaches no account's data.
    sunrise, harbor = two_practices
    add_client(api, harbor, sunrise.admin_email)
    give_password(sunrise.admin_email)  # R50: proven, so the login has two accounts to choose
    token = login(api, sunrise.admin_email).body["token"]
    answer = api.get(f"/v1/orgs/{sunrise.id}/clients", token)
    assert answer.status == 403
    assert answer.error_code() == "account_not_selected"
    assert api.get("/v1/me", token).status == 200
    assert api.post("/v1/auth/logout", token=token).status == 204


def test_switch_to_an_account_not_in_the_list_is_refused(api: Api, two_practices) -> None:
    # R2, R4: an account id of another identity, or made up, is "not found", never entered.
    sunrise, harbor = two_practices
    other = add_client(api, harbor, "other@example.com")
    add_client(api, sunrise, MAYA)
    add_client(api, harbor, MAYA)
    give_password(MAYA)
    token = login(api, MAYA).body["token"]
    for account_id in (f"client:{harbor.id}:{other['id']}", "staff:x:y", "nonsense"):
        answer = api.post("/v1/auth/switch", {"account_id": account_id}, token)
        assert answer.status == 404
        assert answer.error_code() == "account_not_found"


def test_archived_profile_leaves_the_list_and_its_sessions_end(api: Api, two_practices) -> None:
    # R38, R46: archiving a profile ends the sessions inside it at once and removes the account.
    sunrise, harbor = two_practices
    at_sunrise = add_client(api, sunrise, MAYA)
    add_client(api, harbor, MAYA)
    give_password(MAYA)
    first = login(api, MAYA).body
    target = next(a for a in first["accounts"] if a["org"]["slug"] == "sunrise")
    inside = api.post("/v1/auth/switch", {"account_id": target["account_id"]}, first["token"])
    assert api.get("/v1/me", inside.body["token"]).status == 200
    archived = api.post(
        f"/v1/orgs/{sunrise.id}/clients/{at_sunrise['id']}/archive", token=sunrise.admin_token
    )
    assert archived.status == 200
    assert api.get("/v1/me", inside.body["token"]).status == 401
    again = login(api, MAYA).body
    assert kinds_and_orgs(again["accounts"]) == {("client", "harbor")}
    assert again["account"]["org"]["slug"] == "harbor"


def test_logout_ends_the_session(api: Api, practice: Practice) -> None:
    # R46: sign-out ends one session; others of the identity stay.
    other = login(api, practice.admin_email).body["token"]
    assert api.post("/v1/auth/logout", token=practice.admin_token).status == 204
    assert api.get("/v1/me", practice.admin_token).status == 401
    assert api.get("/v1/me", other).status == 200


def test_sessions_expire(api: Api, practice: Practice, monkeypatch: pytest.MonkeyPatch) -> None:
    # R46: a session stops working at its expiry, even before DynamoDB's TTL removes it.
    later = clock.now() + timedelta(hours=12, minutes=1)
    monkeypatch.setattr(clock, "now", lambda: later)
    answer = api.get("/v1/me", practice.admin_token)
    assert answer.status == 401
    assert answer.error_code() == "session_expired"


def test_session_tokens_are_random_and_stored_only_as_hashes(api: Api, practice: Practice):
    # R46: the token is unguessable (256 bits) and only its hash is a key in the store.
    token = practice.admin_token
    assert len(token) >= 43
    assert db.get(Session, token) is None
    stored = db.get(Session, ids.token_hash(token))
    assert stored is not None
    assert token not in str(stored.attribute_values)


def test_missing_or_garbled_tokens_are_401(api: Api, practice: Practice) -> None:
    # R46: no session, no access; the answer is the contract's 401.
    for headers in ({}, {"authorization": "Bearer nope"}, {"authorization": "Basic abc"}):
        answer = api.call("GET", "/v1/me", headers=headers)
        assert answer.status == 401
        assert answer.body["error"]["code"] in {"unauthenticated", "session_expired"}


# R45 -------------------------------------------------------------------------------------------


def test_passwords_are_hashed_with_argon2id(api: Api, practice: Practice) -> None:
    # R45: the stored hash is Argon2id, never the password.
    stored = identity_of(practice.admin_email)
    assert stored.password_hash.startswith("$argon2id$")
    assert PASSWORD not in stored.password_hash


def test_unknown_email_and_wrong_password_answer_alike(api: Api, practice: Practice) -> None:
    # R45: sign-in errors do not tell whether an email has an account.
    wrong = login(api, practice.admin_email, "not the password")
    unknown = login(api, "nobody@example.com", "not the password")
    pending = login(api, "pending@example.com", "not the password")
    assert wrong.status == unknown.status == pending.status == 401
    assert wrong.raw == unknown.raw == pending.raw
    assert wrong.error_code() == "invalid_credentials"


def test_five_failures_throttle_that_email_for_fifteen_minutes(
    api: Api, practice: Practice, monkeypatch: pytest.MonkeyPatch
) -> None:
    # R45: 5 failures per submitted email in 15 minutes, then 429 even with the right password.
    for _ in range(5):
        assert login(api, practice.admin_email, "wrong password").status == 401
    blocked = login(api, practice.admin_email)
    assert blocked.status == 429
    assert blocked.error_code() == "throttled"
    assert int(blocked.headers["Retry-After"]) > 0
    assert login(api, "someone.else@example.com", "wrong").status == 401  # other emails unaffected
    later = clock.now() + timedelta(minutes=31)
    monkeypatch.setattr(clock, "now", lambda: later)
    assert login(api, practice.admin_email).status == 200


def test_unknown_emails_are_throttled_alike(api: Api) -> None:
    # R45: the throttle counts an email with no account exactly as one with an account.
    for _ in range(5):
        assert login(api, "ghost@example.com", "wrong password").status == 401
    assert login(api, "ghost@example.com", "wrong password").status == 429


def test_one_source_address_is_throttled_after_a_hundred_failures(api: Api) -> None:
    # R45: 100 failures from one source address in 15 minutes, across any emails, then 429.
    for n in range(100):
        assert login(api, f"guess{n // 4}@example.com", "wrong").status == 401
    answer = login(api, "fresh@example.com", "wrong")
    assert answer.status == 429


def test_success_forgives_earlier_failures_of_that_email(api: Api, practice: Practice) -> None:
    # R45: the throttle is for guessing; a person who then signs in starts again from zero.
    for _ in range(4):
        login(api, practice.admin_email, "typo")
    assert login(api, practice.admin_email).status == 200
    for _ in range(4):
        assert login(api, practice.admin_email, "typo").status == 401
    assert login(api, practice.admin_email).status == 200


def test_sign_in_reads_a_fixed_number_of_items(api: Api, two_practices, dynamo_calls) -> None:
    # DESIGN "Data": round trips of sign-in do not grow with the identity's organizations.
    counts = []
    for n, practice in enumerate(two_practices):
        add_client(api, practice, MAYA)
        if n == 0:
            give_password(MAYA)
        dynamo_calls.clear()
        assert login(api, MAYA).status == 200
        counts.append(len(dynamo_calls.operations))
    extra = [sign_up_practice(api, f"extra{n}") for n in range(3)]
    for practice in extra:
        add_client(api, practice, MAYA)
    dynamo_calls.clear()
    assert login(api, MAYA).status == 200
    counts.append(len(dynamo_calls.operations))
    assert counts[1] == counts[2], counts


def test_identity_has_no_password_until_one_is_set(api: Api, practice: Practice) -> None:
    # R15 groundwork, R45: a client added by staff has a login without a password; sign-in fails.
    add_client(api, practice, MAYA)
    identity = identities.find_by_email(MAYA)
    assert isinstance(identity, Identity)
    assert identity.password_hash is None
    assert login(api, MAYA, "anything at all").status == 401


# R50: a password nobody proved through the mailbox opens one practice only (issue #12) --------

VICTIM = "victim@example.com"
STRANGERS_PASSWORD = "the strangers own password"
OWNERS_PASSWORD = "the owners chosen password"


def _stranger_sets_the_victims_password(api: Api) -> Practice:
    """Anyone signs up a practice, adds a client with someone else's address (no invite) and,
    as its admin, sets that login's password (R8 allows it: the last organization is theirs)."""
    shady = sign_up_practice(api, "shady")
    client = add_client(api, shady, VICTIM, send_invite=False)
    answer = api.post(
        f"/v1/orgs/{shady.id}/clients/{client['id']}/password",
        {"password": STRANGERS_PASSWORD},
        shady.admin_token,
    )
    assert answer.status == 200, answer.body
    return shady


def test_r50_the_takeover_story_a_strangers_password_never_opens_the_real_practice(
    api: Api, practice: Practice
) -> None:
    # R50, R8, R15: GIVEN a stranger's practice set a password for the victim's address, WHEN a
    # real practice adds that address, THEN the stranger's password lists and opens only the
    # stranger's practice; once the victim accepts the real invite (choosing a password, never
    # asked for the stranger's), the stranger's password is dead and both accounts are listed.
    _stranger_sets_the_victims_password(api)
    real = add_client(api, practice, VICTIM)  # with its invite

    stranger = login(api, VICTIM, STRANGERS_PASSWORD)
    assert stranger.status == 200
    assert kinds_and_orgs(stranger.body["accounts"]) == {("client", "shady")}
    assert stranger.body["account"]["org"]["slug"] == "shady"  # the one account, entered
    me = api.get("/v1/me", stranger.body["token"]).body
    assert kinds_and_orgs(me["accounts"]) == {("client", "shady")}
    sneaking = api.post(
        "/v1/auth/switch",
        {"account_id": f"client:{practice.id}:{real['id']}"},
        stranger.body["token"],
    )
    assert sneaking.status == 404
    assert sneaking.error_code() == "account_not_found"

    path = invite_path(practice, real["id"])
    page = open_page(api, path)[0]
    assert b'name="confirm"' in page.raw  # choose a new password, never the stranger's
    assert b"already have a Portico login" not in page.raw
    session_of(api, submit(api, path, {"password": OWNERS_PASSWORD, "confirm": OWNERS_PASSWORD}))

    assert login(api, VICTIM, STRANGERS_PASSWORD).status == 401
    assert api.get("/v1/me", stranger.body["token"]).status == 401  # R46: their session too
    owner = login(api, VICTIM, OWNERS_PASSWORD)
    assert kinds_and_orgs(owner.body["accounts"]) == {("client", "shady"), ("client", "sunrise")}
    assert identity_of(VICTIM).password_org_id is None


def test_r50_the_owners_reset_proves_the_mailbox_and_ends_the_strangers_password(
    api: Api, practice: Practice
) -> None:
    # R50, R9, R20, R8: the reset email (branded by the stranger's practice, the last one) leads
    # to a page that chooses a new password; then the stranger's password is dead, the real
    # practice's account is listed, and the stranger's admin cannot set the password again.
    shady = _stranger_sets_the_victims_password(api)
    add_client(api, practice, VICTIM, send_invite=False)
    assert kinds_and_orgs(login(api, VICTIM, STRANGERS_PASSWORD).body["accounts"]) == {
        ("client", "shady")
    }

    assert api.post("/v1/auth/password-reset", {"email": VICTIM}).status == 202
    api.post("/_local/drain")  # R51: the worker files a public form's reset under the login
    (job,) = [j for j in EmailJob.by_org.query(shady.id) if j.kind == "password_reset"]
    path = link_path(sealed_link(job))
    assert b'name="confirm"' in open_page(api, path)[0].raw
    done = submit(api, path, {"password": OWNERS_PASSWORD, "confirm": OWNERS_PASSWORD})
    assert done.status == 303  # signed in, choosing between both practices' accounts (B9)

    assert login(api, VICTIM, STRANGERS_PASSWORD).status == 401
    owner = login(api, VICTIM, OWNERS_PASSWORD).body
    assert kinds_and_orgs(owner["accounts"]) == {("client", "shady"), ("client", "sunrise")}
    (shady_client,) = api.get(f"/v1/orgs/{shady.id}/clients", shady.admin_token).body["clients"]
    again = api.post(
        f"/v1/orgs/{shady.id}/clients/{shady_client['id']}/password",
        {"password": STRANGERS_PASSWORD},
        shady.admin_token,
    )
    assert again.status == 409
    assert again.error_code() == "password_owned_elsewhere"
    assert login(api, VICTIM, OWNERS_PASSWORD).status == 200


def test_r50_a_practice_sign_up_with_a_strangers_address_opens_only_that_practice(
    api: Api, practice: Practice
) -> None:
    # R50, R51: the takeover without R8: a practice signed up with the victim's address makes
    # the login with a chosen password. It opens only that practice, its sign-up session cannot
    # switch into an account added later, and it cannot add another practice to the login.
    shady = sign_up_practice(api, "shady", admin_email=VICTIM)  # the password is PASSWORD
    real = add_client(api, practice, VICTIM)

    stranger = login(api, VICTIM)
    assert kinds_and_orgs(stranger.body["accounts"]) == {("staff", "shady")}
    for token in (stranger.body["token"], shady.admin_token):
        sneaking = api.post(
            "/v1/auth/switch", {"account_id": f"client:{practice.id}:{real['id']}"}, token
        )
        assert sneaking.status == 404
    again = api.post(
        "/v1/orgs",
        {
            "name": "Second",
            "slug": "second",
            "admin": {"email": VICTIM, "password": PASSWORD, "first_name": "A", "last_name": "B"},
        },
    )
    assert again.status == 401
    assert again.raw == login(api, "nobody@example.com", "whatever it is").raw  # R51

    path = invite_path(practice, real["id"])
    assert b'name="confirm"' in open_page(api, path)[0].raw
    session_of(api, submit(api, path, {"password": OWNERS_PASSWORD, "confirm": OWNERS_PASSWORD}))
    assert login(api, VICTIM).status == 401
    owner = login(api, VICTIM, OWNERS_PASSWORD).body
    assert kinds_and_orgs(owner["accounts"]) == {("staff", "shady"), ("client", "sunrise")}


def test_r50_a_passcode_proves_the_mailbox_for_its_session_only(
    api: Api, practice: Practice
) -> None:
    # R50, R22: the owner signs in with a code at the real practice; the stranger's password,
    # which the code's holder never showed, still opens only the stranger's practice (were
    # the code to prove it, the stranger would be in).
    _stranger_sets_the_victims_password(api)
    api.patch(f"/v1/orgs/{practice.id}", {"settings": {"otp_login": True}}, practice.admin_token)
    add_client(api, practice, VICTIM, send_invite=False)
    assert api.post("/v1/auth/otp", {"email": VICTIM}).status == 202
    api.post("/_local/drain")  # R51: the worker files a public form's code under the login
    (job,) = [j for j in EmailJob.by_org.query(practice.id) if j.kind == "otp_code"]
    owner = api.post("/v1/auth/otp/verify", {"email": VICTIM, "code": sealed_link(job)})
    assert owner.status == 200
    assert owner.body["account"]["org"]["slug"] == "sunrise"

    stranger = login(api, VICTIM, STRANGERS_PASSWORD)
    assert kinds_and_orgs(stranger.body["accounts"]) == {("client", "shady")}
