"""The group invite link's pages as a visitor's browser meets them (R16, B3, R23)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode, urlsplit

from chalicelib.models.emails import EmailJob
from tests.support.api import Answer, Api, Practice
from tests.support.invites import submit
from tests.support.records import sealed_link, sent_text
from tests.support.sign_in import session_of

NEW_PASSWORD = "blue canoe at dawn"


def make_group(api: Api, practice: Practice, **fields: Any) -> dict[str, Any]:
    body = {"name": "Back pain", "intake_forms": ["Health history", "Consent"], **fields}
    answer = api.post(f"/v1/orgs/{practice.id}/groups", body, practice.admin_token)
    assert answer.status == 201, answer.body
    return answer.body["group"]


def code_of(group: dict[str, Any]) -> str:
    return group["invite_url"].rsplit("/", 1)[-1]


class Browser:
    """A visitor's browser: keeps the pages' cookies (the CSRF pair's, the held sign-in's, B9)
    and reads the form's token from the page."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.cookies: dict[str, str] = {}
        self.csrf = ""

    def get(self, path: str) -> Answer:
        answer = self.api.call("GET", path, headers=self._headers())
        self._keep(answer)
        found = re.search(rb'name="csrf_token" value="([^"]*)"', answer.raw)
        if found:
            self.csrf = found.group(1).decode()
        return answer

    def post(
        self, path: str, fields: dict[str, str], *, token: str | None = None, fresh: bool = True
    ) -> Answer:
        """Post the form; with `fresh`, from the page as it is now (else as last opened)."""
        if fresh:
            self.get(path)
        sent = {**fields, "csrf_token": token if token is not None else self.csrf}
        answer = self.api.call(
            "POST",
            path,
            raw=urlencode(sent),
            headers={**self._headers(), "content-type": "application/x-www-form-urlencoded"},
        )
        self._keep(answer)
        return answer

    def _headers(self) -> dict[str, str]:
        if not self.cookies:
            return {}
        return {"cookie": "; ".join(f"{name}={value}" for name, value in self.cookies.items())}

    def _keep(self, answer: Answer) -> None:
        cookie = {k.lower(): v for k, v in answer.headers.items()}.get("set-cookie")
        if cookie:
            name, _, rest = cookie.partition("=")
            if "max-age=0" in cookie.lower().replace(" ", ""):
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = rest.split(";", 1)[0]

    def joined(self, answer: Answer) -> str:
        """The session a join page's 303 opened, as the portal gets it: the welcome page's
        "Continue to your portal" hands over a one-time code (B9), traded here."""
        location = {k.lower(): v for k, v in answer.headers.items()}["location"]
        assert answer.status == 303, answer.raw[:300]
        assert "#" not in location, location  # no token rides in the URL (B9)
        assert self.get(location).status == 200
        handed = self.post(location, {}, fresh=False)
        return session_of(self.api, handed)


def sign_up_fields(email: str = "maya@example.com", **extra: str) -> dict[str, str]:
    return {
        "first_name": "Maya",
        "last_name": "Chen",
        "email": email,
        "password": NEW_PASSWORD,
        "password_confirm": NEW_PASSWORD,
        **extra,
    }


def confirmation_jobs(practice: Practice, email: str) -> list[EmailJob]:
    """The group sign-up emails to `email` (R16, R51), oldest first (read behind the API)."""
    return [
        job
        for job in EmailJob.by_org.query(practice.id)
        if job.kind == "join_confirmation" and job.to == email
    ]


def confirm_path(practice: Practice, email: str) -> str:
    """The path of the link in the newest sign-up confirmation sent to a new address."""
    job = confirmation_jobs(practice, email)[-1]
    if job.sealed_secret:  # not sent yet: the link as the worker will open it (R53)
        return urlsplit(sealed_link(job)).path
    found = re.search(r"https?://[^/\s]+(/join-confirm/[\w-]+)", sent_text(job))
    assert found, job.job_id
    return found.group(1)


def confirm(api: Api, practice: Practice, email: str = "maya@example.com") -> Answer:
    """Open the emailed confirmation link and press its button: the sign-up finishes."""
    return submit(api, confirm_path(practice, email), {})


def join(api: Api, practice: Practice, code: str, email: str = "maya@example.com") -> Answer:
    """A new address signs up through the group link and confirms it from the email: the 303
    to the group's welcome page (the session held in a cookie this answer sets, B9)."""
    asked = Browser(api).post(f"/join/{code}", sign_up_fields(email))
    assert asked.status == 200, asked.raw[:500]
    return confirm(api, practice, email)


def confirm_in(browser: Browser, practice: Practice, email: str = "maya@example.com") -> Answer:
    """The emailed confirmation link opened and its button pressed in `browser`, which keeps
    the session the sign-up opened (held for the welcome page, B9)."""
    path = confirm_path(practice, email)
    assert browser.get(path).status == 200
    return browser.post(path, {}, fresh=False)


def join_session(api: Api, practice: Practice, code: str, email: str = "maya@example.com") -> str:
    """Sign up through the group link, confirm from the email and continue to the portal:
    the session as the portal gets it, its one-time code traded (R16, R51, B9)."""
    browser = Browser(api)
    asked = browser.post(f"/join/{code}", sign_up_fields(email))
    assert asked.status == 200, asked.raw[:500]
    return browser.joined(confirm_in(browser, practice, email))
