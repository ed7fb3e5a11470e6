"""Helpers for the invite, reset and passcode tests: the links emails carry, landing-page forms."""

from __future__ import annotations

import re
from urllib.parse import urlencode, urlsplit

from chalicelib.models.emails import EmailJob
from tests.support import sign_in
from tests.support.api import Answer, Api, Practice
from tests.support.records import sealed_link

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def add_client(api: Api, practice: Practice, email: str | None, **extra: object) -> dict:
    answer = api.post(
        f"/v1/orgs/{practice.id}/clients",
        {"first_name": "Maya", "last_name": "Chen", "email": email, **extra},
        practice.admin_token,
    )
    assert answer.status == 201, answer.body
    return answer.body["client"]


def jobs_of(practice: Practice, client_id: str, kind: str) -> list[EmailJob]:
    """The client's email jobs of one kind, oldest first (read behind the API)."""
    return [
        job for job in EmailJob.by_client.query(f"{practice.id}#{client_id}") if job.kind == kind
    ]


def link_path(url: str) -> str:
    return urlsplit(url).path


def invite_path(practice: Practice, client_id: str, index: int = -1) -> str:
    """The path of the invite link in the client's newest (or `index`th) invite email."""
    return link_path(sealed_link(jobs_of(practice, client_id, "invite")[index]))


def open_page(api: Api, path: str) -> tuple[Answer, str, str]:
    """GET a landing page: the answer, its CSRF cookie and its form's CSRF token."""
    answer = api.call("GET", path)
    headers = {name.lower(): value for name, value in answer.headers.items()}
    cookie = headers.get("set-cookie", "").split(";")[0]
    found = CSRF.search(answer.raw.decode())
    return answer, cookie, found.group(1) if found else ""


def submit(api: Api, path: str, fields: dict[str, str], *, csrf: bool = True) -> Answer:
    """Open the page, then post its form with `fields` (and its CSRF pair unless told not to)."""
    _, cookie, token = open_page(api, path)
    body = {**fields, **({"csrf_token": token} if csrf else {})}
    headers = {"content-type": "application/x-www-form-urlencoded"}
    if csrf:
        headers["cookie"] = cookie
    return api.call("POST", path, raw=urlencode(body), headers=headers)


def session_of(api: Api, answer: Answer) -> str:
    """The session a 303 to the portal hands over: its one-time code, traded as the portal
    trades it (B9)."""
    return sign_in.session_of(api, answer)
