"""B11: a client can ask, from the portal, to leave a practice (R7): the practice's staff are
told (the primary provider by email, in the practice's branding, B8, and the audit log) and
decide; nothing changes until they archive. A repeat within a day tells nobody again; a
caregiver cannot ask on the client's behalf (tests/test_portal.py's matrix)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from chalicelib import clock
from chalicelib.models.audit import AuditEvent
from chalicelib.models.emails import EmailJob
from chalicelib.models.profiles import ClientProfile
from chalicelib.schemas.portal import LeaveRequest
from chalicelib.services.identity import sessions
from chalicelib.services.portal import leaving
from tests.support.api import Api, Practice, add_provider, give_password
from tests.support.contract import assert_documented
from tests.support.family import add_client, client_session
from tests.support.records import stored

LEAVE = "/v1/portal/leave-request"
BRAND = {"display_name": "Sunrise Wellness", "primary_color": "#aa5500"}


def client_in_portal(api: Api, practice: Practice, **extra: Any) -> tuple[str, str]:
    client_id = add_client(api, practice, "Sam", "sam@example.com", **extra)
    give_password("sam@example.com")
    return client_id, client_session(api, "sam@example.com")


def sent(api: Api, kind: str) -> list[dict[str, Any]]:
    api.post("/_local/drain")
    return [e for e in api.get("/_local/outbox.json").body if e["kind"] == kind]


def leave_events(practice: Practice, client_id: str) -> list[AuditEvent]:
    subject = AuditEvent.subject_for(practice.id, client_id)
    return [e for e in AuditEvent.query(subject) if e.action == "client.leave_requested"]


def test_b11_the_primary_provider_is_told_by_email_in_the_practices_branding(
    api: Api, practice: Practice
) -> None:
    # B11, B8, R40: the email names the client and their reason (escaped), in the branding
    api.patch(f"/v1/orgs/{practice.id}", {"branding": BRAND}, practice.admin_token)
    lee = add_provider(api, practice, "lee")
    _client_id, token = client_in_portal(api, practice, primary_provider_id=lee["id"])
    answer = api.post(LEAVE, {"reason": "Moving <away> & closer to family."}, token)
    assert answer.status == 202, answer.body
    assert_documented("POST", LEAVE, answer)
    (email,) = sent(api, "leave_requested")
    assert email["to"] == lee["email"]
    assert email["subject"] == "Sam Rivera asks to leave Sunrise Wellness"
    assert "Moving &lt;away&gt; &amp; closer to family." in email["html"]
    assert "Moving <away> & closer to family." in email["text"]
    assert "Sunrise Wellness" in email["html"]
    assert "#aa5500" in email["html"]


def test_b11_the_request_is_audited_and_on_the_client_record(api: Api, practice: Practice):
    # B11, R47: staff see who asked and when, in the audit log, the timeline and the record
    client_id, token = client_in_portal(api, practice)
    assert api.post(LEAVE, {"reason": "Moving away."}, token).status == 202
    (event,) = leave_events(practice, client_id)
    assert event.actor == f"client:{client_id}"
    assert event.details["reason_given"] is True
    record = api.get(f"/v1/orgs/{practice.id}/clients/{client_id}", practice.admin_token)
    assert record.body["client"]["leave_request"]["reason"] == "Moving away."
    timeline = api.get(
        f"/v1/orgs/{practice.id}/clients/{client_id}/timeline", practice.admin_token
    ).body["events"]
    assert "client.leave_requested" in [e["audit"]["action"] for e in timeline if e["audit"]]


def test_b11_nothing_changes_until_staff_archive(api: Api, practice: Practice) -> None:
    # B11, R7, R38: the profile stays active, the session and the portal keep working, the
    # client stays in the list; archiving is staff's decision, and then the session ends
    client_id, token = client_in_portal(api, practice)
    assert api.post(LEAVE, {}, token).status == 202
    record = api.get(f"/v1/orgs/{practice.id}/clients/{client_id}", practice.admin_token)
    assert record.body["client"]["status"] == "active"
    assert record.body["client"]["leave_request"]["reason"] is None
    assert api.get("/v1/portal/profile", token).status == 200
    listed = api.get(f"/v1/orgs/{practice.id}/clients", practice.admin_token).body["clients"]
    assert client_id in [c["id"] for c in listed]
    archive = f"/v1/orgs/{practice.id}/clients/{client_id}/archive"
    assert api.post(archive, {}, practice.admin_token).status == 200
    assert api.get("/v1/portal/profile", token).status == 401


def test_b11_a_repeat_within_a_day_tells_nobody_again(
    api: Api, practice: Practice, monkeypatch: pytest.MonkeyPatch
) -> None:
    # B11: one email and one audit event a day, however often the client asks; the answer is
    # the first request's moment; a day later a new request tells the practice again
    client_id, token = client_in_portal(api, practice)
    first = api.post(LEAVE, {"reason": "Moving away."}, token)
    again = api.post(LEAVE, {"reason": "Really."}, token)
    assert again.status == 202
    assert again.body == first.body
    jobs = [j for j in EmailJob.by_org.query(practice.id) if j.kind == "leave_requested"]
    assert len(jobs) == 1
    assert len(leave_events(practice, client_id)) == 1
    later = clock.now() + timedelta(hours=25)
    monkeypatch.setattr(clock, "now", lambda: later)
    token = client_session(api, "sam@example.com")
    assert api.post(LEAVE, {"reason": "Still moving."}, token).status == 202
    assert len(leave_events(practice, client_id)) == 2
    assert stored(ClientProfile, practice.id, client_id).leave_reason == "Still moving."


def test_b11_staff_cannot_ask_for_a_client(api: Api, practice: Practice) -> None:
    # B11: it is the client's request, from the portal; a staff session is refused
    answer = api.post(LEAVE, {}, practice.admin_token)
    assert (answer.status, answer.error_code()) == (403, "portal_only")
    assert_documented("POST", LEAVE, answer)


def test_b11_two_requests_at_once_tell_the_practice_once(api: Api, practice: Practice) -> None:
    # B11: both read the profile before either wrote; the write's own condition lets one tell
    client_id, token = client_in_portal(api, practice)
    first, second = sessions.authenticate(token), sessions.authenticate(token)
    moments = {leaving.ask_to_leave(who, LeaveRequest()) for who in (first, second)}
    assert len(moments) == 1
    jobs = [j for j in EmailJob.by_org.query(practice.id) if j.kind == "leave_requested"]
    assert len(jobs) == 1
    assert len(leave_events(practice, client_id)) == 1
