"""The hosted sign-in pages as a visitor's browser meets them (B9): a cookie jar that follows
each answer's Set-Cookie, the forms' CSRF token, and the one-time code a hand-over carries."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from chalicelib.services.identity import sessions
from tests.support.api import Answer, Api

FORM = "application/x-www-form-urlencoded"
CSRF = re.compile(rb'name="csrf_token" value="([^"]*)"')


def header(answer: Answer, name: str) -> str:
    return {key.lower(): value for key, value in answer.headers.items()}.get(name.lower(), "")


class PageBrowser:
    """One visitor: keeps every cookie the pages set (deleting those set with Max-Age=0) and
    the CSRF token of the last page it opened."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.cookies: dict[str, str] = {}
        self.set_cookies: list[str] = []  # every Set-Cookie seen, to check their attributes
        self.csrf = ""

    def get(self, path: str) -> Answer:
        answer = self.api.call("GET", path, headers=self._headers())
        self._keep(answer)
        return answer

    def post(
        self, path: str, fields: dict[str, str], *, headers: dict[str, str] | None = None
    ) -> Answer:
        """Post `fields` with the CSRF token of the page last opened."""
        sent = {**fields, "csrf_token": self.csrf}
        answer = self.api.call(
            "POST",
            path,
            raw=urlencode(sent),
            headers={**self._headers(), "content-type": FORM, **(headers or {})},
        )
        self._keep(answer)
        return answer

    def follow(self, answer: Answer) -> Answer:
        """GET the page a 303 sends the browser to (a path of this site)."""
        assert answer.status == 303, answer.raw[:500]
        location = urlsplit(header(answer, "location"))
        return self.get(location.path + (f"?{location.query}" if location.query else ""))

    def _headers(self) -> dict[str, str]:
        if not self.cookies:
            return {}
        return {"cookie": "; ".join(f"{name}={value}" for name, value in self.cookies.items())}

    def _keep(self, answer: Answer) -> None:
        raw = header(answer, "set-cookie")
        if raw:
            self.set_cookies.append(raw)
            name, _, rest = raw.partition("=")
            value = rest.split(";", 1)[0]
            if "max-age=0" in raw.lower().replace(" ", ""):
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        found = CSRF.search(answer.raw or b"")
        if found:
            self.csrf = found.group(1).decode()


def fragment_of(answer: Answer) -> dict[str, str]:
    """The fields of the fragment of a 303's Location (`#code=…&state=…`)."""
    assert answer.status == 303, answer.raw[:500]
    return {k: v[0] for k, v in parse_qs(urlsplit(header(answer, "location")).fragment).items()}


def code_of(answer: Answer) -> str:
    """The one-time code a hand-over to the portal carries."""
    return fragment_of(answer)["code"]


def exchange(api: Api, code: str, verifier: str | None = None) -> Answer:
    body: dict[str, Any] = {"code": code}
    if verifier is not None:
        body["code_verifier"] = verifier
    return api.post("/v1/auth/exchange", body)


def session_of(api: Api, answer: Answer) -> str:
    """The session a page handed to the portal, as the portal gets it: the code traded."""
    traded = exchange(api, code_of(answer))
    assert traded.status == 200, traded.body
    return traded.body["token"]


def challenge_for(verifier: str) -> str:
    """RFC 7636 S256, computed here independently of the code under test."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


def recording_sessions(monkeypatch: Any) -> list[str]:
    """Every token a session starts with from now on, wherever it starts (sessions.start), so
    a test can look for them where they must never be."""
    started: list[str] = []
    start = sessions.start

    def recording(*args: Any, **kwargs: Any) -> str:
        started.append(start(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr(sessions, "start", recording)
    return started


def emailed(api: Api, to: str, kind: str) -> str:
    """The text of the newest email of `kind` sent to `to`, once the worker has sent what was
    queued (a code or a reset link asked for on a public form is made by the worker, R51):
    read from the local outbox, as a person reads their mail."""
    api.post("/_local/drain")
    sent = [e for e in api.get("/_local/outbox.json").body if e["to"] == to and e["kind"] == kind]
    assert sent, f"no {kind} email to {to}"
    return str(sent[-1]["text"])


def emailed_code(api: Api, to: str) -> str:
    """The 6-digit code of the newest sign-in code emailed to `to` (R22)."""
    found = re.search(r"\b([0-9]{6})\b", emailed(api, to, "otp_code"))
    assert found, "no code in the email"
    return found.group(1)


def emailed_link(api: Api, to: str, kind: str) -> str:
    """The path of the page link in the newest email of `kind` sent to `to`."""
    found = re.search(r"https?://[^/\s]+(/[^\s]+)", emailed(api, to, kind))
    assert found, f"no link in the {kind} email"
    return found.group(1)
