"""R52 (with R45, R20, R22, R51): every throttle and single-use limit holds under concurrency.

Each test sends many attempts at once, in threads against moto in process (`atomic_moto`: one
DynamoDB call at a time, as DynamoDB applies them), each from its own source address so that
only the per-email limit binds, and counts what reached the check: at most the limit, as if
the attempts had come one after another. The real-stack figure is tests/e2e/test_throttles.py.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest
from chalice.test import Client

from app import app
from chalicelib import clock, config, ids
from chalicelib.errors import PorticoError
from chalicelib.models.emails import EmailJob
from chalicelib.models.identities import SignInFailures
from chalicelib.schemas.identity import Login
from chalicelib.schemas.practices import CreateOrg
from chalicelib.services import local_stage
from chalicelib.services.families import caregiver_invites
from chalicelib.services.identity import auth
from chalicelib.services.invites import landing, passcodes
from chalicelib.services.practices import orgs
from tests.support.api import PASSWORD, Api, Practice, give_password, sign_up_practice
from tests.support.concurrency import at_once, count_verifications
from tests.support.family import family
from tests.support.family import invite_path as caregiver_invite_path
from tests.support.invites import add_client, invite_path
from tests.support.records import sent_text

MAYA = "maya@example.com"
N = 12
LIMIT = config.LOGIN_FAILURES_PER_EMAIL


def _refused(work: Any) -> str:
    """Run one attempt; the code of the error it answered (or "ok")."""
    try:
        work()
    except PorticoError as error:
        return error.code
    return "ok"


def _client_with_password(api: Api, practice: Practice, email: str = MAYA) -> None:
    add_client(api, practice, email, send_invite=False)
    give_password(email)


def test_r52_parallel_wrong_passwords_for_one_email_verify_at_most_five(
    api: Api, practice: Practice, atomic_moto: None, monkeypatch: pytest.MonkeyPatch
):
    # R52, R45: N wrong sign-ins at once are counted before their password is checked: five
    # are checked (401), the others are refused unchecked (429), and the right password after
    # them is refused too. The check-then-count throttle let all N be verified.
    _client_with_password(api, practice)
    verified = count_verifications(monkeypatch)

    def guess(n: int) -> str:
        req = Login(email=MAYA, password=f"guess number {n}")
        return _refused(lambda: auth.sign_in(req, source=f"10.0.0.{n}"))

    answers = at_once(guess, N)
    assert len(verified) <= LIMIT, len(verified)
    assert answers.count("invalid_credentials") == len(verified)
    assert answers.count("throttled") == N - len(verified)
    right = Login(email=MAYA, password=PASSWORD)
    assert _refused(lambda: auth.sign_in(right, source="10.0.1.1")) == "throttled"


def test_r52_parallel_wrong_codes_reach_the_code_at_most_five_times(
    api: Api, practice: Practice, atomic_moto: None, monkeypatch: pytest.MonkeyPatch
):
    # R52, R22, R45: N wrong passcodes at once: the sign-in throttle counts each before the
    # code is read, so at most five tries reach the code; the right code then is refused.
    api.patch(f"/v1/orgs/{practice.id}", {"settings": {"otp_login": True}}, practice.admin_token)
    _client_with_password(api, practice)
    passcodes.request(MAYA, "10.0.9.9")
    local_stage.drain()  # the worker makes the code and sends it (R51)
    (job,) = [j for j in EmailJob.by_org.query(practice.id) if j.kind == "otp_code"]
    found = re.search(r"\b[0-9]{6}\b", sent_text(job))
    assert found
    code = found.group(0)
    tried: list[int] = []
    count_try = passcodes._count_try

    def counting(token: Any) -> bool:
        tried.append(1)
        return count_try(token)

    monkeypatch.setattr(passcodes, "_count_try", counting)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    answers = at_once(lambda n: _refused(lambda: passcodes.verify(MAYA, wrong, f"10.0.0.{n}")), N)
    assert len(tried) <= LIMIT, len(tried)
    assert answers.count("throttled") == N - len(tried)
    assert _refused(lambda: passcodes.verify(MAYA, code, "10.0.1.1")) == "throttled"


def test_r52_parallel_wrong_passwords_on_an_invite_page_verify_at_most_five(
    api: Api, practice: Practice, atomic_moto: None, monkeypatch: pytest.MonkeyPatch
):
    # R52, R15, R45: the invite page of a login that has a password asks for it: a sign-in,
    # counted before the check, whatever the number of tabs guessing at once.
    other = sign_up_practice(api, "moonrise")
    _client_with_password(api, other)
    client = add_client(api, practice, MAYA)
    secret = invite_path(practice, client["id"]).rsplit("/", 1)[-1]
    assert landing.landing(secret).state == landing.LandingState.ENTER_PASSWORD
    verified = count_verifications(monkeypatch)

    def guess(n: int) -> int:
        accepted = landing.accept(secret, f"guess number {n}", "", f"10.0.0.{n}")
        return accepted.status

    statuses = at_once(guess, N)
    assert len(verified) <= LIMIT, len(verified)
    assert statuses.count(429) == N - len(verified)
    assert landing.accept(secret, PASSWORD, "", "10.0.1.1").status == 429


def test_r52_parallel_wrong_passwords_on_a_caregiver_invite_verify_at_most_five(
    api: Api, practice: Practice, atomic_moto: None, monkeypatch: pytest.MonkeyPatch
):
    # R52, R30, R45: a caregiver whose login has a password proves it on the invite's page.
    fam = family(api, practice, accept=False)
    give_password(fam.caregiver_email)
    secret = caregiver_invite_path(practice.id, fam.caregiver).rsplit("/", 1)[-1]
    invite = caregiver_invites.caregiver_invite(secret)
    assert invite is not None
    assert invite.has_password
    verified = count_verifications(monkeypatch)

    def guess(n: int) -> str:
        return _refused(
            lambda: caregiver_invites.accept_caregiver_invite(
                invite, f"guess number {n}", None, f"10.0.0.{n}"
            )
        )

    answers = at_once(guess, N)
    assert len(verified) <= LIMIT, len(verified)
    assert answers.count("throttled") == N - len(verified)
    right = _refused(
        lambda: caregiver_invites.accept_caregiver_invite(invite, PASSWORD, None, "10.0.1.1")
    )
    assert right == "throttled"


def test_r52_parallel_practice_sign_ups_with_a_login_verify_at_most_five(
    api: Api, practice: Practice, atomic_moto: None, monkeypatch: pytest.MonkeyPatch
):
    # R52, R45, R51: a practice sign-up with an address that has a login checks that login's
    # password: a sign-in, counted before the check.
    verified = count_verifications(monkeypatch)

    def guess(n: int) -> str:
        req = CreateOrg.model_validate(
            {
                "name": f"Guess {n}",
                "slug": f"guess-{n}",
                "admin": {
                    "email": practice.admin_email,
                    "password": f"guess number {n}",
                    "first_name": "Eve",
                    "last_name": "Guess",
                },
            }
        )
        return _refused(lambda: orgs.sign_up(req, f"10.0.0.{n}"))

    answers = at_once(guess, N)
    assert len(verified) <= LIMIT, len(verified)
    assert answers.count("throttled") == N - len(verified)


def test_r52_parallel_reset_requests_send_at_most_five_links(practice: Practice, atomic_moto: None):
    # R52, R20, R45: asking for resets is limited per email; N at once get no more emails
    # than N one after another would.
    with Client(app, stage_name="local") as raw:
        api = Api(raw)
        _client_with_password(api, practice)
        statuses = at_once(lambda _: api.post("/v1/auth/password-reset", {"email": MAYA}).status, N)
    local_stage.drain()
    resets = [j for j in EmailJob.by_org.query(practice.id) if j.kind == "password_reset"]
    assert 1 <= len(resets) <= LIMIT, len(resets)
    assert set(statuses) <= {202, 429}  # never 409 (R51)


@pytest.mark.parametrize("email", [MAYA, "nobody@example.com"])
def test_r51_concurrent_resets_answer_alike_for_known_and_unknown_addresses(
    practice: Practice, atomic_moto: None, email: str
):
    # R51: resets asked for one address at the same moment answer 202, each of them, whether
    # or not the address has a login: no 409 `concurrent_change` for a known one.
    with Client(app, stage_name="local") as raw:
        api = Api(raw)
        _client_with_password(api, practice)
        answers = at_once(lambda _: api.post("/v1/auth/password-reset", {"email": email}), LIMIT)
    assert [(a.status, a.raw) for a in answers] == [(202, answers[0].raw)] * LIMIT


def test_r45_throttle_keys_are_keyed_with_the_stages_secret(
    api: Api, practice: Practice, monkeypatch: pytest.MonkeyPatch
):
    # R45, R48: a counter's key holds an HMAC of the email with a secret, never a bare hash
    # that anyone reading the table could compute from a guessed address.
    assert api.post("/v1/auth/login", {"email": MAYA, "password": "wrong"}).status == 401
    window = int(clock.now().timestamp() // config.LOGIN_WINDOW_SECONDS)
    bare = hashlib.sha256(MAYA.encode()).hexdigest()[:32]
    keyed = ids.keyed_fingerprint(MAYA)
    assert keyed != bare
    assert SignInFailures.count(f"signin#email#{bare}#{window}") == 0
    assert SignInFailures.count(f"signin#email#{keyed}#{window}") == 1
    monkeypatch.setitem(config.LOCAL_SECRETS, "page", "another stage's secret")
    assert ids.keyed_fingerprint(MAYA) != keyed
