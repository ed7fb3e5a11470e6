"""R10–R12: every way a client arrives goes through one rule, `arrivals.admit`."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.services.clients import arrivals as arrival_service
from chalicelib.services.clients import joining
from chalicelib.services.identity import identities
from tests.support.api import Api, Practice, add_provider, give_password, login
from tests.support.join import code_of, confirm_path, join, make_group


@pytest.fixture
def arrivals(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    real = arrival_service.admit

    def recording(
        org: Any, arrival: arrival_service.Arrival, **kwargs: Any
    ) -> arrival_service.Admitted:
        seen.append(arrival.source)
        return real(org, arrival, **kwargs)

    monkeypatch.setattr(arrival_service, "admit", recording)
    return seen


def test_staff_add_import_link_booking_and_purchase_all_admit_the_client(
    api: Api, practice: Practice, arrivals: list[str]
) -> None:
    # R10–R12: one rule for "a client arrives", whoever brings them.
    token = practice.admin_token
    assert (
        api.post(
            f"/v1/orgs/{practice.id}/clients", {"first_name": "A", "last_name": "B"}, token
        ).status
        == 201
    )
    imported = api.call(
        "POST",
        f"/v1/orgs/{practice.id}/imports",
        raw="first_name,last_name,email,phone,dob\nC,D,,,\n",
        token=token,
        headers={"content-type": "text/csv"},
    )
    assert imported.status == 200
    code = code_of(make_group(api, practice))
    assert join(api, practice, code).status == 303
    person = {"email": "sam@example.com", "first_name": "Sam", "last_name": "Ito"}
    booked = api.post(
        "/v1/public/orgs/sunrise/bookings", {**person, "starts_at": "2099-03-01T10:00:00Z"}
    )
    bought = api.post(
        "/v1/public/orgs/sunrise/purchases", {**person, "email": "kim@example.com", "package": "P"}
    )
    assert (booked.status, bought.status) == (201, 201)
    assert arrivals == ["staff", "import", "group_link", "booking", "package"]


def test_the_practices_default_provider_holds_a_booking_client(api: Api, practice: Practice):
    # R10: no provider named, no group: the organization's default_provider_id.
    add_provider(api, practice, "lee")
    kim = add_provider(api, practice, "kim")
    api.patch(
        f"/v1/orgs/{practice.id}",
        {"settings": {"default_provider_id": kim["id"]}},
        practice.admin_token,
    )
    api.post(
        "/v1/public/orgs/sunrise/bookings",
        {
            "email": "sam@example.com",
            "first_name": "Sam",
            "last_name": "Ito",
            "starts_at": "2099-03-01T10:00:00Z",
        },
    )
    (client,) = api.get(f"/v1/orgs/{practice.id}/clients", practice.admin_token).body["clients"]
    assert client["primary_provider_id"] == kim["id"]


def test_without_any_default_the_earliest_admin_holds_a_self_arrived_client(api, practice):
    # R10: several providers and no default: the client is not turned away; the practice's
    # founding admin holds them until staff reassign.
    add_provider(api, practice, "lee")
    add_provider(api, practice, "kim")
    code = code_of(make_group(api, practice))
    assert join(api, practice, code).status == 303
    admin = next(
        p
        for p in api.get(f"/v1/orgs/{practice.id}/providers", practice.admin_token).body[
            "providers"
        ]
        if p["role"] == "admin"
    )
    (client,) = api.get(f"/v1/orgs/{practice.id}/clients", practice.admin_token).body["clients"]
    assert client["primary_provider_id"] == admin["id"]


def test_a_sign_up_never_takes_over_a_login_made_meanwhile(api: Api, practice, monkeypatch):
    # R1, R16: if the email's login appears between the confirmation's read and its write,
    # the sign-up is refused (the page says to sign in), never added to that login with the
    # password chosen at the sign-up.
    link = joining.open_link(code_of(make_group(api, practice)))
    assert (
        joining.sign_up(
            link,
            first_name="X",
            last_name="Y",
            email="other@example.com",
            password="blue canoe at dawn",
            source="1.2.3.4",
        )
        is None
    )
    secret = confirm_path(practice, "other@example.com").rsplit("/", 1)[-1]
    api.post(
        f"/v1/orgs/{practice.id}/clients",
        {"first_name": "Maya", "last_name": "Chen", "email": "other@example.com"},
        practice.admin_token,
    )
    give_password("other@example.com")
    real, reads = identities.claim_or_add, []

    def stale_once(tx: Any, email: str, *, first_org_id: str) -> Any:
        reads.append(email)
        if len(reads) == 1:  # the first write's read of the claim is stale: no login yet
            made = identities.add(tx, email, first_org_id=first_org_id)
            return made.id, made
        return real(tx, email, first_org_id=first_org_id)

    monkeypatch.setattr(identities, "claim_or_add", stale_once)
    with pytest.raises(joining.ConfirmationDead) as refused:
        joining.confirm(secret)
    assert refused.value.found.state == joining.ConfirmationState.LOGIN_MADE
    assert len(reads) == 2  # read again on the retry, which found the login
    assert login(api, "other@example.com").status == 200  # its own password, untouched
