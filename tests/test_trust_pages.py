"""What a page or an email's envelope must not let a stranger do (issue #12): a landing page's
CSRF pair works only on the link it was drawn for and only for a while, in a `__Host-` cookie;
email previews carry the pages' headers (B8); a practice's From name cannot pose as another
sender on the platform's shared address."""

from __future__ import annotations

from datetime import timedelta
from email.header import decode_header, make_header
from email.utils import parseaddr
from urllib.parse import urlencode

import pytest

from chalicelib import clock, config
from chalicelib.models.orgs import Organization
from chalicelib.services.email import delivery
from chalicelib.services.practices import branding
from tests.support.api import Answer, Api, Practice
from tests.support.email import RecordingSender, book
from tests.support.email import add_client as add_plain_client
from tests.support.invites import add_client, invite_path, open_page
from tests.support.records import stored

NEW = "a brand new password"


def _post(api: Api, path: str, cookie: str, token: str) -> Answer:
    return api.call(
        "POST",
        path,
        raw=urlencode({"password": NEW, "confirm": NEW, "csrf_token": token}),
        headers={"content-type": "application/x-www-form-urlencoded", "cookie": cookie},
    )


def _two_invite_links(api: Api, practice: Practice) -> tuple[str, str]:
    first = add_client(api, practice, "maya@example.com")
    second = add_client(api, practice, "noor@example.com")
    return invite_path(practice, first["id"]), invite_path(practice, second["id"])


# Landing pages' CSRF pair --------------------------------------------------------------------


def test_a_csrf_pair_drawn_on_one_invite_link_is_refused_on_another(
    api: Api, practice: Practice
) -> None:
    mine, theirs = _two_invite_links(api, practice)
    _, cookie, token = open_page(api, mine)
    refused = _post(api, theirs, cookie, token)
    assert refused.status == 403
    assert _post(api, mine, cookie, token).status == 303  # the pair works where it was drawn


def test_a_csrf_pair_expires(api: Api, practice: Practice, monkeypatch: pytest.MonkeyPatch):
    path, _ = _two_invite_links(api, practice)
    _, cookie, token = open_page(api, path)
    later = clock.now() + timedelta(seconds=config.CSRF_MAX_AGE_SECONDS + 1)
    monkeypatch.setattr(clock, "now", lambda: later)
    assert _post(api, path, cookie, token).status == 403
    _, cookie, token = open_page(api, path)  # a fresh page is a fresh pair
    assert _post(api, path, cookie, token).status == 303


def test_the_csrf_cookie_is_host_only_secure_and_expiring(api: Api, practice: Practice) -> None:
    path, _ = _two_invite_links(api, practice)
    shown, _, _ = open_page(api, path)
    cookie = {name.lower(): value for name, value in shown.headers.items()}["set-cookie"]
    name, *attributes = [part.strip() for part in cookie.split(";")]
    assert name.startswith("__Host-")
    flags = {a.split("=", 1)[0].lower(): a.partition("=")[2] for a in attributes}
    assert {"secure", "httponly", "path", "max-age", "samesite"} <= set(flags)
    assert "domain" not in flags
    assert (flags["path"], flags["samesite"]) == ("/", "Strict")
    assert int(flags["max-age"]) == config.CSRF_MAX_AGE_SECONDS


# B8: email previews are pages ----------------------------------------------------------------


def test_b8_an_email_preview_carries_the_pages_headers(api: Api, practice: Practice) -> None:
    preview = api.get(f"/v1/orgs/{practice.id}/email-previews/invite", practice.admin_token)
    page = open_page(api, "/invite/not-a-real-token-at-all")[0]
    assert preview.status == 200
    headers = {name.lower(): value for name, value in preview.headers.items()}
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    policy = headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "script-src" not in policy
    shared = ("content-security-policy", "x-frame-options", "referrer-policy", "cache-control")
    page_headers = {name.lower(): value for name, value in page.headers.items()}
    assert {h: headers[h] for h in shared} == {h: page_headers[h] for h in shared}


# The From name on the platform's shared sender -----------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("sender_name", "Evergreen Wellness <billing@evergreen.example>"),
        ("sender_name", "billing@evergreen.example"),
        ("sender_name", '"Evergreen Wellness"'),
        ("display_name", "Evergreen\u202e Wellness"),
        ("sender_name", "Evergreen Wellness via Portico"),
    ],
)
def test_a_sender_name_that_poses_as_another_sender_is_refused(
    api: Api, practice: Practice, field: str, value: str
) -> None:
    answer = api.patch(
        f"/v1/orgs/{practice.id}", {"branding": {field: value}}, practice.admin_token
    )
    assert answer.status == 400, answer.body
    assert [d["field"] for d in answer.body["error"]["details"]] == [f"branding.{field}"]


@pytest.mark.parametrize(
    ("stored_name", "shown"),
    [
        ("Sunrise Front Desk", "Sunrise Front Desk via Portico"),
        ("Evergreen <billing@evergreen.example>", "Evergreen via Portico"),
        ('Evergreen "Wellness" (support@x.example)', "Evergreen Wellness via Portico"),
        ("Evergreen\r\nBcc: victim@example.com", "Evergreen Bcc via Portico"),
        ("Evergreen\u202e ssenlleW", "Evergreen ssenlleW via Portico"),
        ("Evergreen Wellness via Portico", "Evergreen Wellness via Portico"),
        ("Clínica Sol", "Clínica Sol via Portico"),
        ("<>@", "Portico"),
    ],
)
def test_the_from_name_is_the_practice_followed_by_the_platform(
    stored_name: str, shown: str
) -> None:
    header = branding.from_header({"sender_name": stored_name})
    assert "\n" not in header
    assert "\r" not in header
    name, address = parseaddr(header)
    assert address == config.MAIL_FROM_ADDRESS
    assert str(make_header(decode_header(name))) == shown


def test_the_worker_sends_from_the_practice_via_the_platform(api: Api, practice: Practice) -> None:
    # A name stored before the rule (or written behind the API) is still shown safely.
    org = stored(Organization, practice.id, "org")
    org.update([Organization.branding.set({"sender_name": "Sunrise <desk@evil.example>"})])
    book(api, practice, [add_plain_client(api, practice, "Maya", "maya@example.com")])
    sender = RecordingSender()
    jobs = api.get(f"/v1/orgs/{practice.id}/emails", practice.admin_token).body["emails"]
    for job in jobs:
        assert delivery.deliver(job["id"], sender) == "sent"
    (sent,) = sender.sent
    assert parseaddr(sent["source"]) == ("Sunrise via Portico", config.MAIL_FROM_ADDRESS)
