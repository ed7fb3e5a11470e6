"""What an email looks like (R9, R40, B7, B8): the right organization's branding, HTML and
text parts, autoescaped, CSS inlined, and previews before anything is sent."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib import config, sealing
from chalicelib.db import Tx
from chalicelib.models.identities import Identity
from chalicelib.rules.email_kinds import KINDS
from chalicelib.services import outbox, tokens
from chalicelib.services.email import delivery, rendering
from tests.support.api import Api, Practice, sign_up_practice
from tests.support.email import RecordingSender, add_client, book
from tests.support.records import identity_of, stored

SUNRISE = {
    "display_name": "Sunrise Wellness",
    "logo_url": "https://cdn.example/sunrise.png",
    "primary_color": "#ff6600",
    "sender_name": "Sunrise Front Desk",
    "reply_to": "desk@sunrise.example",
    "footer": "12 Dawn Street, Springfield",
}
HARBOR = {
    "display_name": "Harbor Physio",
    "logo_url": "https://cdn.example/harbor.png",
    "primary_color": "#003366",
    "sender_name": "Harbor Team",
    "reply_to": "team@harbor.example",
    "footer": "1 Pier Road, Portsmouth",
}


def brand(api: Api, practice: Practice, branding: dict) -> None:
    answer = api.patch(f"/v1/orgs/{practice.id}", {"branding": branding}, practice.admin_token)
    assert answer.status == 200, answer.body


@pytest.fixture
def branded(api: Api) -> tuple[Practice, Practice]:
    sunrise, harbor = sign_up_practice(api, "sunrise"), sign_up_practice(api, "harbor")
    brand(api, sunrise, SUNRISE)
    brand(api, harbor, HARBOR)
    return sunrise, harbor


def sent_by_worker(job_ids: list[str]) -> RecordingSender:
    sender = RecordingSender()
    for job_id in job_ids:
        assert delivery.deliver(job_id, sender) == "sent"
    return sender


def job_ids(api: Api, practice: Practice) -> list[str]:
    return [
        e["id"]
        for e in api.get(f"/v1/orgs/{practice.id}/emails", practice.admin_token).body["emails"]
    ]


def test_an_organizations_email_carries_its_branding_and_no_other(api: Api, branded) -> None:
    # R9, R40: logo, colour, sender name, reply-to and footer of the email's organization;
    # nothing of another organization's, even for a client of both.
    sunrise, harbor = branded
    for practice in branded:
        book(api, practice, [add_client(api, practice, "Maya", "maya@example.com")])
    for practice, own, other in ((sunrise, SUNRISE, HARBOR), (harbor, HARBOR, SUNRISE)):
        [sent] = sent_by_worker(job_ids(api, practice)).sent
        message = sent["message"]
        assert sent["source"] == f"{own['sender_name']} via Portico <{config.MAIL_FROM_ADDRESS}>"
        assert sent["reply_to"] == own["reply_to"]
        for value in own.values():
            assert value in message.html, value
        for value in (own["display_name"], own["footer"], own["sender_name"]):
            assert value in message.text
        for value in other.values():
            assert value not in message.html
            assert value not in message.text
            assert value not in message.subject


def test_an_email_after_a_branding_change_carries_the_new_branding(api: Api, branded) -> None:
    # R9, R40 (issue #17: the From is cleaned once a sender name): the worker's next email
    # after staff change the branding has the new sender name and colour, not the first's
    sunrise, _ = branded
    client_id = add_client(api, sunrise, "Maya", "maya@example.com")
    book(api, sunrise, [client_id])
    [first] = sent_by_worker(job_ids(api, sunrise)).sent
    brand(api, sunrise, {**SUNRISE, "sender_name": "Sunrise Clinic", "primary_color": "#118844"})
    book(api, sunrise, [client_id])
    [second] = sent_by_worker(job_ids(api, sunrise)[:1]).sent
    assert first["source"] == f"Sunrise Front Desk via Portico <{config.MAIL_FROM_ADDRESS}>"
    assert second["source"] == f"Sunrise Clinic via Portico <{config.MAIL_FROM_ADDRESS}>"
    assert "#118844" in second["message"].html
    assert "#ff6600" not in second["message"].html


def test_html_is_autoescaped_and_its_css_inlined(api: Api, branded) -> None:
    # R40: a client's name is text, never markup; mail clients that drop <style> still see it.
    sunrise, _ = branded
    book(api, sunrise, [add_client(api, sunrise, "<script>alert(1)</script>", "x@example.com")])
    [sent] = sent_by_worker(job_ids(api, sunrise)).sent
    html, text = sent["message"].html, sent["message"].text
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)</script>" in text  # plain text needs no escaping
    assert "<style" not in html
    assert 'style="' in html
    assert "background: #ff6600" in html


def test_rendering_never_fetches_a_stylesheet(monkeypatch: pytest.MonkeyPatch) -> None:
    # R40: CSS comes from the layout's <style> alone; a template that gained a <link> to a
    # stylesheet (here a closed port, which css-inline's default would fail to fetch) renders
    # without the worker calling out to the web
    env = rendering.environment()
    html = env.from_string(
        '<html><head><link rel="stylesheet" href="http://127.0.0.1:9/mail.css">'
        "<style>p { color: red }</style></head><body><p>{{ brand.display_name }}</p></body></html>"
    )
    monkeypatch.setattr(
        rendering,
        "_templates",
        lambda name, subject: (env.from_string("Hello"), html, env.from_string("text")),
    )
    message = rendering.render(KINDS["appointment_confirmation"], {}, {"display_name": "Sunrise"})
    assert '<p style="color: red;">Sunrise</p>' in message.html
    assert "<link" not in message.html


def _reset_job(identity: Identity, org_id: str) -> str:
    tx = Tx()
    issued = tokens.issue(
        tx, "reset", f"reset#{identity.id}", ttl=timedelta(hours=1), identity_id=identity.id
    )
    job = outbox.queue(
        tx,
        org_id=org_id,
        kind="password_reset",
        identity_id=identity.id,
        context={"hours": 24},
        secret=sealing.seal("https://x.example/reset/t", issued.token.token_hash),
    )
    tx.commit()
    return job.job_id


def test_identity_emails_carry_the_last_organizations_branding(api: Api, branded) -> None:
    # R9: an email about the identity itself is branded by the organization last entered,
    # whichever organization's action queued it.
    sunrise, harbor = branded
    add_client(api, sunrise, "Maya", "maya@example.com")
    add_client(api, harbor, "Maya", "maya@example.com")
    identity = identity_of("maya@example.com")
    identity.update([Identity.last_org_id.set(harbor.id)])
    [sent] = sent_by_worker([_reset_job(identity, sunrise.id)]).sent
    assert HARBOR["display_name"] in sent["message"].html
    assert SUNRISE["display_name"] not in sent["message"].html
    assert stored(type(identity), identity.id).last_org_id == harbor.id


def test_neutral_identity_emails_hide_memberships_when_the_platform_says_so(
    api: Api, branded, monkeypatch: pytest.MonkeyPatch
) -> None:
    # B7: with the setting on, an identity in several organizations gets neutral identity
    # emails; an identity in one keeps its practice's branding.
    sunrise, harbor = branded
    monkeypatch.setattr(config, "NEUTRAL_IDENTITY_EMAILS", True)
    add_client(api, sunrise, "Maya", "maya@example.com")
    add_client(api, harbor, "Maya", "maya@example.com")
    add_client(api, sunrise, "Solo", "solo@example.com")
    maya = identity_of("maya@example.com")
    solo = identity_of("solo@example.com")
    sender = sent_by_worker([_reset_job(maya, sunrise.id), _reset_job(solo, sunrise.id)])
    neutral, branded_one = (s["message"].html for s in sender.sent)
    for value in (*SUNRISE.values(), *HARBOR.values()):
        assert value not in neutral
    assert "Portico" in neutral
    assert SUNRISE["display_name"] in branded_one


def test_staff_preview_every_kind_in_their_branding(api: Api, branded) -> None:
    # B8: every notification kind, rendered with sample data, before anything is ever sent.
    sunrise, _ = branded
    kinds = api.get(f"/v1/orgs/{sunrise.id}/email-previews", sunrise.admin_token).body["kinds"]
    assert {"appointment_confirmation", "appointment_reminder", "password_reset"} <= set(kinds)
    for kind in kinds:
        page = api.get(f"/v1/orgs/{sunrise.id}/email-previews/{kind}", sunrise.admin_token)
        assert page.status == 200
        assert page.headers["Content-Type"].startswith("text/html")
        html = page.raw.decode()
        assert SUNRISE["display_name"] in html
        assert SUNRISE["logo_url"] in html
        assert HARBOR["display_name"] not in html
    missing = api.get(f"/v1/orgs/{sunrise.id}/email-previews/no_such_kind", sunrise.admin_token)
    assert missing.status == 404
    assert missing.error_code() == "email_kind_not_found"
