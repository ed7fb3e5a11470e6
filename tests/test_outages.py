"""Scheduled work survives a stopped schedule (issue #18; R42, R43, R44, R14, B5): a trigger that
comes back catches up from its checkpoint; what would go out too late ends `suppressed`,
reason `missed`; nothing is left unsent and unrecorded, nothing goes out twice."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from chalicelib import clock, config
from chalicelib.models.appointments import Reminder
from chalicelib.models.emails import EmailJob, EmailStatus
from chalicelib.models.tokens import Token
from chalicelib.services import triggers
from chalicelib.services.email import delivery, feedback
from tests.support.api import Api, Practice, sign_up_practice
from tests.support.email import RecordingSender, add_client, book
from tests.support.family import family
from tests.support.family import jobs_of as family_jobs
from tests.support.invites import add_client as invited_client
from tests.support.invites import jobs_of
from tests.support.ses import in_sns, ses_event


def outcomes(jobs: list[EmailJob]) -> list[tuple[str, str | None]]:
    return sorted((job.status, job.reason) for job in jobs)


def reminders_of(practice: Practice, client_id: str) -> list[EmailJob]:
    return [
        job
        for job in EmailJob.by_client.query(f"{practice.id}#{client_id}")
        if job.kind == "appointment_reminder"
    ]


@pytest.fixture
def t0() -> datetime:
    return clock.now().replace(microsecond=0)


def test_reminders_catch_up_after_a_day_stopped_and_missed_ones_are_recorded(
    api: Api, practice: Practice, t0: datetime, capsys: pytest.CaptureFixture[str]
) -> None:
    # R44, R42, R43 (issue #18): the reminder trigger runs, then is stopped for 24 hours, far
    # past its 6-hour look-back. When it comes back, a reminder of an appointment still to
    # come goes out (late); one whose appointment has started, or which a nearer reminder of
    # the same appointment supersedes, ends `suppressed`, `missed`. None stays unsent and
    # unrecorded, and ticking again sends nothing twice.
    assert config.REMINDER_LOOKBACK_HOURS < 18
    api.patch(
        f"/v1/orgs/{practice.id}", {"settings": {"reminder_hours": [24, 2]}}, practice.admin_token
    )
    clients = {
        name: add_client(api, practice, name, f"{name.lower()}@example.com")
        for name in ("Ana", "Ben", "Cy", "Dee")
    }
    book(api, practice, [clients["Ana"]], t0 + timedelta(hours=30))  # 24 h one due at +6 h
    book(api, practice, [clients["Ben"]], t0 + timedelta(hours=25))  # +1 h, and 2 h one at +23 h
    book(api, practice, [clients["Cy"]], t0 + timedelta(hours=10))  # 2 h one due at +8 h
    book(api, practice, [clients["Dee"]], t0 + timedelta(hours=20))  # 2 h one due at +18 h
    api.post("/_local/drain")
    assert triggers.reminders(t0)["reminders"] == 0  # the last run before the outage

    resumed = t0 + timedelta(hours=24)
    ticked = api.post("/_local/tick", {"now": resumed.strftime("%Y-%m-%dT%H:%M:%SZ")}).body
    assert ticked["reminders"] == 2  # Ana's 24 h one, late but before her visit; Ben's 2 h one
    assert outcomes(reminders_of(practice, clients["Ana"])) == [("sent", None)]
    assert outcomes(reminders_of(practice, clients["Ben"])) == [
        ("sent", None),
        ("suppressed", "missed"),
    ]
    assert outcomes(reminders_of(practice, clients["Cy"])) == [("suppressed", "missed")]
    assert outcomes(reminders_of(practice, clients["Dee"])) == [("suppressed", "missed")]
    assert '"ScheduledEmailsMissed":[1.0]' in capsys.readouterr().out  # the alarm's metric
    # Nothing due is left in the index; only Ana's 2 h reminder (due at +28 h) waits.
    waiting = list(Reminder.query(practice.id, Reminder.sk.startswith("reminder#")))
    assert sorted(r.hours for r in waiting if r.due_hour) == [2]
    for later in (resumed, resumed + timedelta(minutes=5), resumed + timedelta(hours=4, minutes=1)):
        triggers.reminders(later)
    api.post("/_local/drain")
    assert len(reminders_of(practice, clients["Ana"])) == 2  # + its 2 h one, at +28 h
    assert [len(reminders_of(practice, clients[n])) for n in ("Ben", "Cy", "Dee")] == [2, 1, 1]


def test_reminders_resume_a_run_that_ran_out_of_budget(
    api: Api, practice: Practice, t0: datetime
) -> None:
    # Issue #18: a run under a budget of N hours handles N and keeps its place; the next run
    # goes on from there, so a long catch-up never times out and never skips an hour.
    from chalicelib.services.checkpoints import Budget  # noqa: PLC0415

    client_id = add_client(api, practice, "Ana", "ana@example.com")
    book(api, practice, [client_id], t0 + timedelta(hours=30))  # due at +6 h
    triggers.reminders(t0)
    resumed = t0 + timedelta(hours=24)
    runs = [triggers.reminders(resumed, Budget(pages=4))["reminders"] for _ in range(7)]
    assert sum(runs) == 1
    assert runs[0] == 0
    assert runs[1] == 1


def test_follow_ups_catch_up_after_a_day_stopped(
    api: Api, practice: Practice, t0: datetime
) -> None:
    # R14, R44 (issue #18): the follow-up trigger is stopped for a day over the day-3
    # follow-up, past its 6-hour look-back. Back, it sends it.
    maya = invited_client(api, practice, "maya@example.com")
    triggers.follow_ups(t0 + timedelta(days=2, hours=12))
    assert triggers.follow_ups(t0 + timedelta(days=3, hours=12))["follow_ups"] == 1
    assert outcomes(jobs_of(practice, maya["id"], "invite"))[-1] == ("queued", None)


def test_a_follow_up_due_with_the_next_one_is_missed(
    api: Api, practice: Practice, t0: datetime
) -> None:
    # R14, R43 (issue #18): with follow-ups on days 3 and 4 and the trigger stopped for a day
    # over both, the day-3 one is recorded `missed` and the day-4 one alone goes out.
    other = practice
    api.patch(f"/v1/orgs/{other.id}", {"settings": {"follow_up_days": [3, 4]}}, other.admin_token)
    noor = invited_client(api, other, "noor@example.com")
    api.post("/_local/drain")
    triggers.follow_ups(t0 + timedelta(days=3) - timedelta(minutes=10))
    assert triggers.follow_ups(t0 + timedelta(days=4, minutes=30))["follow_ups"] == 1
    api.post("/_local/drain")
    jobs = jobs_of(other, noor["id"], "invite")
    assert [(j.context["follow_up"], j.status, j.reason) for j in jobs] == [
        (False, EmailStatus.SENT, None),
        (True, EmailStatus.SUPPRESSED, "missed"),
        (True, EmailStatus.SENT, None),
    ]
    assert not list(Token.follow_ups_due.query(jobs_of_hour(t0 + timedelta(days=4))))
    assert triggers.follow_ups(t0 + timedelta(days=4, hours=2))["follow_ups"] == 0


def jobs_of_hour(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H")


def test_grant_reminders_catch_up_and_one_past_its_end_is_missed(
    api: Api, practice: Practice, t0: datetime
) -> None:
    # B5, R43 (issue #18): the grant-reminder trigger is stopped five days, past its 3-day
    # look-back. Back, a grant still running is reminded (late); one whose end date has passed
    # is not: both its emails end `suppressed`, `missed`.
    today = t0.date()
    ending = family(
        api,
        practice,
        portal_access={"acknowledged": True, "ends_on": str(today + timedelta(days=2))},
    )
    other = sign_up_practice(api, "harbor")
    running = family(
        api, other, portal_access={"acknowledged": True, "ends_on": str(today + timedelta(days=6))}
    )
    assert triggers.grants_ending(t0 - timedelta(days=1))["grant_reminders"] == 0
    resumed = t0 + timedelta(days=5)
    assert triggers.grants_ending(resumed)["grant_reminders"] == 1
    for fam in (ending, running):
        for client_id in (fam.receiver, fam.caregiver):
            expected = [("suppressed", "missed")] if fam is ending else [("queued", None)]
            assert (
                outcomes(family_jobs(fam.practice.id, client_id, "caregiver_access_ending"))
                == expected
            )
    assert triggers.grants_ending(resumed + timedelta(hours=1))["grant_reminders"] == 0


class Killed(BaseException):
    """The worker's process ending (Lambda's timeout, an out-of-memory kill): no handler runs."""


def _killed_after_ses(
    api: Api, practice: Practice, t0: datetime, monkeypatch: pytest.MonkeyPatch
) -> tuple[EmailJob, RecordingSender]:
    """A booking's confirmation that SES accepted, its worker killed before the outcome."""
    client_id = add_client(api, practice, "Ana", "ana@example.com")
    book(api, practice, [client_id])
    [job] = list(EmailJob.by_client.query(f"{practice.id}#{client_id}"))
    sender = RecordingSender()
    end = delivery._end

    def killed_after_sending(
        job: EmailJob, claim: str, status: EmailStatus, *args, **kwargs
    ) -> None:
        if status == EmailStatus.SENT:
            raise Killed
        end(job, claim, status, *args, **kwargs)

    monkeypatch.setattr(delivery, "_end", killed_after_sending)
    with pytest.raises(Killed):
        delivery.deliver(job.job_id, sender, t0)
    monkeypatch.setattr(delivery, "_end", end)
    return job, sender


def test_a_worker_killed_between_ses_and_its_outcome_write_measures_r41s_window(
    api: Api, practice: Practice, t0: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # R41, R42 (issue #18): the worker is killed after SES accepted the email and before the
    # job's outcome is written. Nothing is lost: the job stays `sending`, and a redelivery
    # inside OUTBOX_CLAIM_STALE_SECONDS sends nothing. Past it, the claim is stale and the
    # email goes out a second time if SES's `Send` event has not arrived by then: the window
    # the README names, measured here as the stale-claim time.
    job, sender = _killed_after_ses(api, practice, t0, monkeypatch)
    assert EmailJob.get(job.job_id).status == EmailStatus.SENDING
    stale = timedelta(seconds=config.OUTBOX_CLAIM_STALE_SECONDS)
    assert delivery.deliver(job.job_id, sender, t0 + stale - timedelta(seconds=1)) == "in_flight"
    assert len(sender.sent) == 1
    assert delivery.deliver(job.job_id, sender, t0 + stale) == "sent"
    assert len(sender.sent) == 2  # the one duplicate the window allows
    assert delivery.deliver(job.job_id, sender, t0 + 2 * stale) == "duplicate"


def test_r41_a_send_event_marks_the_killed_workers_job_sent_and_nothing_goes_twice(
    api: Api, practice: Practice, t0: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # issue #18: SES's `Send` event, tagged with the job, arrives before the claim goes stale:
    # the job is sent in the log, and the redelivery past the stale time sends nothing.
    job, sender = _killed_after_ses(api, practice, t0, monkeypatch)
    event = ses_event("Send", "ana@example.com", job.job_id)
    assert feedback.handle(in_sns(event)) == "recorded_sent"
    recorded = EmailJob.get(job.job_id)
    assert recorded.status == EmailStatus.SENT
    assert (recorded.to, recorded.ses_message_id) == ("ana@example.com", event["mail"]["messageId"])
    assert recorded.sent_at == datetime.fromisoformat(event["mail"]["timestamp"])
    assert recorded.sealed_secret is None  # R53
    assert recorded.open_shard is None  # the outbox sweep no longer sees it
    stale = timedelta(seconds=config.OUTBOX_CLAIM_STALE_SECONDS)
    assert delivery.deliver(job.job_id, sender, t0 + stale) == "duplicate"
    assert len(sender.sent) == 1
    assert feedback.handle(in_sns(event)) == "already_recorded"  # SNS delivers at least once


def test_r41_a_send_event_after_the_workers_own_outcome_changes_nothing(
    api: Api, practice: Practice
) -> None:
    client_id = add_client(api, practice, "Ana", "ana@example.com")
    book(api, practice, [client_id])
    [job] = list(EmailJob.by_client.query(f"{practice.id}#{client_id}"))
    assert delivery.deliver(job.job_id, RecordingSender()) == "sent"
    before = EmailJob.get(job.job_id)
    assert feedback.handle(in_sns(ses_event("Send", "ana@example.com", job.job_id))) == (
        "already_recorded"
    )
    after = EmailJob.get(job.job_id)
    assert (after.status, after.ses_message_id, after.sent_at) == (
        before.status,
        before.ses_message_id,
        before.sent_at,
    )
    missing = ses_event("Send", "ana@example.com", "em_" + "0" * 24)
    assert feedback.handle(in_sns(missing)) == "unknown_job"
