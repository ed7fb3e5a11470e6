"""B10: staff see, per client, every invite and its status, every email and its outcome, and
every audit event in one timeline, paged, newest first; another practice's client answers as a
missing one (R4); a page costs the same round trips whatever the history holds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib import clock
from tests.support.api import Api, Practice, sign_up_practice
from tests.support.contract import assert_documented
from tests.support.email import book

TEMPLATE = "/v1/orgs/{org_id}/clients/{client_id}/timeline"


def timeline_path(practice: Practice, client_id: str) -> str:
    return f"/v1/orgs/{practice.id}/clients/{client_id}/timeline"


def add_invited(api: Api, practice: Practice, first: str = "Maya") -> str:
    body = {"first_name": first, "last_name": "Chen", "email": f"{first.lower()}@example.com"}
    answer = api.post(f"/v1/orgs/{practice.id}/clients", body, practice.admin_token)
    assert answer.status == 201, answer.body
    return answer.body["client"]["id"]


def resend(api: Api, practice: Practice, client_id: str) -> None:
    path = f"/v1/orgs/{practice.id}/clients/{client_id}/invite"
    assert api.post(path, {}, practice.admin_token).status == 202


def everything(api: Api, practice: Practice, client_id: str) -> list[dict[str, Any]]:
    answer = api.get(f"{timeline_path(practice, client_id)}?limit=100", practice.admin_token)
    assert answer.status == 200, answer.body
    assert answer.body["next_cursor"] is None
    return answer.body["events"]


def pages_of(api: Api, practice: Practice, client_id: str, limit: int) -> list[list[dict]]:
    pages, cursor = [], None
    while True:
        query = f"?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        answer = api.get(timeline_path(practice, client_id) + query, practice.admin_token)
        assert answer.status == 200, answer.body
        pages.append(answer.body["events"])
        cursor = answer.body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 100, "the cursor never ends"


def test_b10_the_timeline_shows_invites_with_status_emails_with_outcome_and_audit_events(
    api: Api, practice: Practice
) -> None:
    # B10: added with an invite, its email sent, a new invite (the first superseded, B1), an
    # appointment whose confirmation is suppressed once the client is archived (R38, R43)
    client_id = add_invited(api, practice)
    api.post("/_local/drain")
    resend(api, practice, client_id)
    book(api, practice, [client_id])
    api.post(f"/v1/orgs/{practice.id}/clients/{client_id}/archive", {}, practice.admin_token)
    api.post("/_local/drain")
    answer = api.get(timeline_path(practice, client_id), practice.admin_token)
    assert_documented("GET", TEMPLATE, answer)
    events = answer.body["events"]
    invites = [e["invite"]["status"] for e in events if e["type"] == "invite"]
    assert invites == ["pending", "superseded"]  # newest first
    emails = [(e["email"]["kind"], e["email"]["status"]) for e in events if e["type"] == "email"]
    assert ("invite", "sent") in emails
    assert ("appointment_confirmation", "suppressed") in emails
    (confirmation,) = [
        e["email"]
        for e in events
        if e["type"] == "email" and e["email"]["kind"] == "appointment_confirmation"
    ]
    assert confirmation["reason"] == "archived"
    actions = {e["audit"]["action"] for e in events if e["type"] == "audit"}
    assert "client.added" in actions
    moments = [e["at"] for e in events]
    assert moments == sorted(moments, reverse=True)
    for event in events:
        assert [key for key in ("invite", "email", "audit") if event[key]] == [event["type"]]


def test_b10_pages_follow_one_another_without_gaps_or_repeats(api: Api, practice: Practice):
    # B10: pages of 2 then 3 give exactly the one-page timeline, in the same order
    client_id = add_invited(api, practice)
    for _ in range(2):
        resend(api, practice, client_id)
    book(api, practice, [client_id])
    whole = [e["id"] for e in everything(api, practice, client_id)]
    assert len(whole) >= 9
    for limit in (2, 3):
        pages = pages_of(api, practice, client_id, limit)
        assert all(len(page) == limit for page in pages[:-1])
        assert [e["id"] for page in pages for e in page] == whole


def test_b10_events_of_one_second_are_paged_without_gaps_or_repeats(
    api: Api, practice: Practice, monkeypatch: pytest.MonkeyPatch
) -> None:
    # B10: with every event at the same moment, each source keeps its own place in the cursor
    frozen = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    monkeypatch.setattr(clock, "now", lambda: frozen)
    client_id = add_invited(api, practice)
    resend(api, practice, client_id)
    resend(api, practice, client_id)
    whole = [e["id"] for e in everything(api, practice, client_id)]
    assert len(whole) >= 8
    pages = pages_of(api, practice, client_id, 1)
    assert [e["id"] for page in pages for e in page] == whole


def test_b10_another_practices_client_answers_as_a_missing_one(api: Api, practice: Practice):
    # R4: the same 404, byte for byte, as for a client that does not exist
    other = sign_up_practice(api, "elsewhere")
    theirs = add_invited(api, other, "Noor")
    foreign = api.get(timeline_path(practice, theirs), practice.admin_token)
    missing = api.get(timeline_path(practice, "cl_" + "0" * 24), practice.admin_token)
    assert foreign.status == missing.status == 404
    assert foreign.raw == missing.raw
    assert_documented("GET", TEMPLATE, foreign)


def test_b10_a_cursor_of_another_clients_timeline_is_refused(api: Api, practice: Practice):
    # R4: a cursor names its own client's partitions; another client's is a 400 on `cursor`
    first = add_invited(api, practice, "Maya")
    second = add_invited(api, practice, "Noor")
    cursor = api.get(timeline_path(practice, first) + "?limit=1", practice.admin_token).body[
        "next_cursor"
    ]
    assert cursor
    answer = api.get(
        timeline_path(practice, second) + f"?limit=1&cursor={cursor}", practice.admin_token
    )
    assert answer.status == 400, answer.body
    assert answer.body["error"]["details"][0]["field"] == "cursor"


def test_b10_a_page_costs_the_same_round_trips_however_long_the_history(
    api: Api, practice: Practice, dynamo_calls: Any
) -> None:
    # B10, DESIGN "Data": session (2, issue #17), the profile (1), one Query of each source (3)
    client_id = add_invited(api, practice)
    counts = []
    for _ in range(2):
        dynamo_calls.clear()
        assert api.get(timeline_path(practice, client_id), practice.admin_token).status == 200
        counts.append(list(dynamo_calls.operations))
        for _ in range(2):
            resend(api, practice, client_id)
        book(api, practice, [client_id])
    assert counts[0] == counts[1]
    assert counts[0].count("Query") == 3
    assert len(counts[0]) == 6, counts[0]
