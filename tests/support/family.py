"""Helpers for the family tests: a plus practice with a caregiver grant, accepted through the
caregiver-invite page, and the caregiver's session inside the care receiver's account."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from chalicelib.models.emails import EmailJob
from tests.support.api import PASSWORD, Answer, Api, Practice, login
from tests.support.records import sealed_link


def enable_caregivers(api: Api, practice: Practice, **settings: Any) -> None:
    answer = api.patch(
        f"/v1/orgs/{practice.id}",
        {"plan": "plus", "settings": {"caregiver_access": True, **settings}},
        practice.admin_token,
    )
    assert answer.status == 200, answer.body


def add_client(api: Api, practice: Practice, first: str, email: str | None, **extra: Any) -> str:
    """A client without an invite unless asked: the family tests count the other emails."""
    answer = api.post(
        f"/v1/orgs/{practice.id}/clients",
        {"first_name": first, "last_name": "Rivera", "email": email, "send_invite": False, **extra},
        practice.admin_token,
    )
    assert answer.status == 201, answer.body
    return answer.body["client"]["id"]


def link(api: Api, practice: Practice, origin: str, body: dict[str, Any]) -> Answer:
    return api.post(f"/v1/orgs/{practice.id}/clients/{origin}/links", body, practice.admin_token)


def jobs_of(org_id: str, client_id: str, kind: str) -> list[EmailJob]:
    return [j for j in EmailJob.by_client.query(f"{org_id}#{client_id}") if j.kind == kind]


def invite_path(org_id: str, caregiver_id: str) -> str:
    (job,) = jobs_of(org_id, caregiver_id, "caregiver_invite")[-1:]
    return "/" + sealed_link(job).split("/", 3)[3]


def open_page(api: Api, path: str) -> tuple[Answer, str, str]:
    """GET the page: its answer, its CSRF cookie and token."""
    page = api.call("GET", path)
    headers = {name.lower(): value for name, value in page.headers.items()}
    cookie = headers.get("set-cookie", "").split(";")[0]
    found = re.search(rb'name="csrf_token" value="([^"]+)"', page.raw)
    return page, cookie, found.group(1).decode() if found else ""


def submit(api: Api, path: str, fields: dict[str, str]) -> Answer:
    page, cookie, token = open_page(api, path)
    assert page.status == 200, page.raw[:500]
    return api.call(
        "POST",
        path,
        raw=urlencode({**fields, "csrf_token": token}),
        headers={"content-type": "application/x-www-form-urlencoded", "cookie": cookie},
    )


@dataclass
class Family:
    """Sam (the care receiver, origin of the link) and Jordan (the caregiver)."""

    practice: Practice
    receiver: str
    caregiver: str
    link_id: str
    caregiver_email: str = "jordan@example.com"

    @property
    def link_path(self) -> str:
        return f"/v1/orgs/{self.practice.id}/clients/{self.receiver}/links/{self.link_id}"


def family(
    api: Api,
    practice: Practice,
    *,
    receiver_extra: dict[str, Any] | None = None,
    portal_access: dict[str, Any] | None = None,
    accept: bool = True,
) -> Family:
    enable_caregivers(api, practice)
    receiver = add_client(api, practice, "Sam", "sam@example.com", **(receiver_extra or {}))
    caregiver = add_client(api, practice, "Jordan", "jordan@example.com")
    made = link(
        api,
        practice,
        receiver,
        {
            "client_id": caregiver,
            "relationship": "parent",
            "notify": True,
            "portal_access": portal_access or {"acknowledged": True},
        },
    )
    assert made.status == 201, made.body
    found = Family(practice, receiver, caregiver, made.body["link"]["id"])
    if accept:
        path = invite_path(practice.id, caregiver)
        accepted = submit(api, path, {"password": PASSWORD, "confirm": PASSWORD})
        assert accepted.status == 303, accepted.raw[:500]
    return found


def caregiver_session(api: Api, fam: Family) -> str:
    """The caregiver signs in and switches into the care receiver's account (R2, R3, R30)."""
    signed_in = login(api, fam.caregiver_email)
    assert signed_in.status == 200, signed_in.body
    (account,) = [a for a in signed_in.body["accounts"] if a["kind"] == "caregiver"]
    switched = api.post(
        "/v1/auth/switch", {"account_id": account["account_id"]}, signed_in.body["token"]
    )
    assert switched.status == 200, switched.body
    return switched.body["token"]


def client_session(api: Api, email: str) -> str:
    """A client signs in and enters their one client account."""
    signed_in = login(api, email)
    assert signed_in.status == 200, signed_in.body
    if signed_in.body["account"] is not None and signed_in.body["account"]["kind"] == "client":
        return signed_in.body["token"]
    (account,) = [a for a in signed_in.body["accounts"] if a["kind"] == "client"]
    switched = api.post(
        "/v1/auth/switch", {"account_id": account["account_id"]}, signed_in.body["token"]
    )
    assert switched.status == 200, switched.body
    return switched.body["token"]
