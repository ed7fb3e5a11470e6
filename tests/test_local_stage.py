"""The local stage's own routes (API.md "Local stage only"): the outbox a person reads, and
404 on every other stage."""

from __future__ import annotations

import pytest

from chalicelib import config
from tests.support.api import Api, Practice
from tests.support.email import add_client, book


def test_the_outbox_shows_sent_emails_as_a_page_and_as_json(api: Api, practice: Practice):
    book(api, practice, [add_client(api, practice, "Ana", "ana@example.com")])
    assert api.get("/_local/outbox.json").body == []
    api.post("/_local/drain")
    [sent] = api.get("/_local/outbox.json").body
    assert sent["to"] == "ana@example.com"
    assert sent["kind"] == "appointment_confirmation"
    assert sent["org_id"] == practice.id
    assert "Practice sunrise" in sent["html"]
    assert sent["subject"].startswith("Your appointment on")
    page = api.get("/_local/outbox")
    assert page.headers["Content-Type"].startswith("text/html")
    assert sent["subject"] in page.raw.decode()
    assert "1 sent email," in page.raw.decode()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/_local/outbox"),
        ("GET", "/_local/outbox.json"),
        ("POST", "/_local/drain"),
        ("POST", "/_local/tick"),
    ],
)
def test_other_stages_answer_404(api: Api, monkeypatch: pytest.MonkeyPatch, method, path) -> None:
    monkeypatch.setattr(config, "STAGE", "prod")
    answer = api.call(method, path, {} if method == "POST" else None)
    assert answer.status == 404
    assert answer.error_code() == "not_found"
