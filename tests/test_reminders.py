"""Appointment reminders (R34, R44): found by a Query on their hour, sent once per client
whatever the tick rate, never for archived clients."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from chalicelib import clock
from chalicelib.models.appointments import Reminder
from chalicelib.services import appointments
from tests.support.api import Api, Practice
from tests.support.email import add_client, book, email_log


def at(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def reminders(api: Api, practice: Practice) -> list[dict]:
    return [e for e in email_log(api, practice) if e["kind"] == "appointment_reminder"]


@pytest.fixture
def start() -> datetime:
    return clock.now().replace(microsecond=0) + timedelta(hours=30)


def test_each_client_of_an_appointment_is_reminded_once(api: Api, practice: Practice, start):
    # R34, R44: a family appointment reminds each client, 24 hours before, once.
    ids = [
        add_client(api, practice, "Ana", "ana@example.com"),
        add_client(api, practice, "Leo", "leo@example.com"),
    ]
    book(api, practice, ids, start)
    api.post("/_local/drain")
    assert api.post("/_local/tick", {"now": at(start - timedelta(hours=25))}).body["reminders"] == 0
    due = start - timedelta(hours=24) + timedelta(minutes=1)
    tick = api.post("/_local/tick", {"now": at(due)}).body
    assert (tick["reminders"], tick["sent"]) == (1, 2)
    for later in (due, due + timedelta(minutes=1), due + timedelta(hours=2)):
        assert api.post("/_local/tick", {"now": at(later)}).body["reminders"] == 0
    sent = reminders(api, practice)
    assert sorted((e["to"], e["status"]) for e in sent) == [
        ("ana@example.com", "sent"),
        ("leo@example.com", "sent"),
    ]


def test_overlapping_ticks_send_a_reminder_once(api: Api, practice: Practice, start) -> None:
    # R44: two triggers running at the same moment both read the reminder from the index
    # (which lags on AWS); its conditional write lets one of them queue it.
    book(api, practice, [add_client(api, practice, "Ana", "ana@example.com")], start)
    due = start - timedelta(hours=23)
    [seen_by_both] = Reminder.due.query(Reminder.hour_of(start - timedelta(hours=24)))
    first = appointments._send_reminder(seen_by_both, due)
    second = appointments._send_reminder(Reminder.from_raw_data(seen_by_both.serialize()), due)
    assert (first, second) == (1, 0)
    assert appointments.send_due_reminders(due) == 0
    assert len(reminders(api, practice)) == 1


def test_a_late_tick_still_finds_reminders_of_earlier_hours(api: Api, practice, start) -> None:
    # R44: ticks may stop for a while; reminders due in the hours since are still sent.
    book(api, practice, [add_client(api, practice, "Ana", "ana@example.com")], start)
    late = start - timedelta(hours=24) + timedelta(hours=5)
    assert api.post("/_local/tick", {"now": at(late)}).body["reminders"] == 1


def test_reminders_follow_the_organizations_hours(api: Api, practice: Practice, start) -> None:
    # R44: default 24 hours before, per organization: here 48 and 2.
    api.patch(
        f"/v1/orgs/{practice.id}", {"settings": {"reminder_hours": [48, 2]}}, practice.admin_token
    )
    book(
        api,
        practice,
        [add_client(api, practice, "Ana", "ana@example.com")],
        start + timedelta(hours=24),
    )
    first, second = start - timedelta(hours=24), start + timedelta(hours=22)  # 48 h, 2 h before
    ticks = [
        first - timedelta(minutes=10),
        first + timedelta(minutes=1),
        second - timedelta(hours=1),
        second + timedelta(minutes=1),
    ]
    assert [appointments.send_due_reminders(t) for t in ticks] == [0, 1, 0, 1]


def test_archived_clients_get_no_reminder(api: Api, practice: Practice, start) -> None:
    # R38, R43: the reminder is queued, then suppressed for the archived client with a reason.
    client_id = add_client(api, practice, "Ana", "ana@example.com")
    book(api, practice, [client_id], start)
    api.post(f"/v1/orgs/{practice.id}/clients/{client_id}/archive", token=practice.admin_token)
    tick = api.post("/_local/tick", {"now": at(start - timedelta(hours=23))}).body
    assert tick["sent"] == 0
    assert [(e["status"], e["reason"]) for e in reminders(api, practice)] == [
        ("suppressed", "archived")
    ]


def test_booking_refuses_clients_of_another_practice_or_archived(api: Api, practice) -> None:
    # R4, R34: only active clients of this practice can be booked.
    from tests.support.api import sign_up_practice  # noqa: PLC0415

    other = sign_up_practice(api, "harbor")
    theirs = add_client(api, other, "Zed", None)
    archived = add_client(api, practice, "Old", None)
    api.post(f"/v1/orgs/{practice.id}/clients/{archived}/archive", token=practice.admin_token)
    provider = api.get(f"/v1/orgs/{practice.id}/providers", practice.admin_token).body["providers"][
        0
    ]
    for client_id in (theirs, archived):
        answer = api.post(
            f"/v1/orgs/{practice.id}/appointments",
            {
                "provider_id": provider["id"],
                "client_ids": [client_id],
                "minutes": 30,
                "starts_at": at(clock.now() + timedelta(days=2)),
                "type": "Visit",
            },
            practice.admin_token,
        )
        assert answer.status == 400
        assert answer.body["error"]["details"][0]["field"] == "client_ids.0"


def test_a_tick_given_in_another_offset_finds_the_same_reminders(api: Api, practice, start):
    # R44: "now" names a moment; its UTC offset does not change which reminders are due.
    book(api, practice, [add_client(api, practice, "Ana", "ana@example.com")], start)
    due = start - timedelta(hours=24) + timedelta(minutes=30)
    in_new_york = due.astimezone(timezone(timedelta(hours=-5))).isoformat()
    assert api.post("/_local/tick", {"now": in_new_york}).body["reminders"] == 1


def test_appointments_are_booked_in_the_future(api: Api, practice: Practice) -> None:
    # R34: a confirmation is for an appointment to come.
    client_id = add_client(api, practice, "Ana", "ana@example.com")
    provider = api.get(f"/v1/orgs/{practice.id}/providers", practice.admin_token).body["providers"][
        0
    ]
    answer = api.post(
        f"/v1/orgs/{practice.id}/appointments",
        {
            "provider_id": provider["id"],
            "client_ids": [client_id],
            "minutes": 30,
            "starts_at": "2001-01-01T00:00:00Z",
            "type": "Visit",
        },
        practice.admin_token,
    )
    assert answer.status == 400
    assert answer.body["error"]["details"][0]["field"] == "starts_at"


def test_appointments_are_listed_a_page_at_a_time(api: Api, practice: Practice) -> None:
    # API.md paging: every appointment once across pages; a made-up cursor is a 400.
    client_id = add_client(api, practice, "Ana", None)
    booked = {book(api, practice, [client_id])["id"] for _ in range(3)}
    seen, cursor = [], None
    while True:
        query = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = api.get(f"/v1/orgs/{practice.id}/appointments{query}", practice.admin_token).body
        seen += [a["id"] for a in page["appointments"]]
        if not (cursor := page["next_cursor"]):
            break
    assert sorted(seen) == sorted(booked)
    bad = api.get(f"/v1/orgs/{practice.id}/appointments?cursor=abc", practice.admin_token)
    assert bad.status == 400
