"""Minimal appointments (R34) with their confirmations and reminders (R44)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from chalicelib import clock, config, db, ids, logs, paging
from chalicelib.db import Tx
from chalicelib.errors import Conflict, field_error
from chalicelib.models.appointments import Appointment, ClientAppointment, Reminder
from chalicelib.models.emails import EmailJob
from chalicelib.models.orgs import Organization, Provider
from chalicelib.models.profiles import ClientProfile, ProfileStatus
from chalicelib.rules.actors import Actor
from chalicelib.rules.settings import org_settings
from chalicelib.schemas.appointments import CreateAppointment
from chalicelib.schemas.common import PageQuery
from chalicelib.services import access, checkpoints, outbox, records
from chalicelib.services.checkpoints import MISSED, Budget
from chalicelib.services.practices import orgs


def create(actor: Actor, org_id: str, req: CreateAppointment) -> Appointment:
    """Book an appointment for one or more clients (R34): each gets its confirmation, and its
    reminders are filed for the hours the organization sets (R44), all in one transaction."""
    access.staff_of(actor, org_id)
    org = records.org(org_id)
    provider = orgs.clinical_provider(org_id, req.provider_id, "provider_id")
    profiles = _clients(org_id, req.client_ids)
    tx = Tx()
    appointment = book(
        tx, org, provider, profiles, starts_at=req.starts_at, minutes=req.minutes, type_=req.type
    )
    tx.commit()
    logs.event(
        "appointment.created",
        org_id=org_id,
        appointment_id=appointment.appointment_id,
        clients=len(profiles),
    )
    return appointment


def book(
    tx: Tx,
    org: Organization,
    provider: Provider,
    profiles: list[ClientProfile],
    *,
    starts_at: datetime,
    minutes: int,
    type_: str,
) -> Appointment:
    """Add an appointment to `tx` with its reminders (R44) and each client's confirmation
    (R34): staff booking and a public booking (R17) both come here. The caller commits; its
    emails go to the queue with the commit."""
    org_id = org.org_id
    now = clock.now()
    appointment_id = ids.new_id("ap")
    appointment = Appointment(
        org_id,
        Appointment.sk_for(appointment_id),
        appointment_id=appointment_id,
        provider_id=provider.provider_id,
        client_ids=[p.client_id for p in profiles],
        starts_at=starts_at,
        minutes=minutes,
        type=type_,
        created_at=now,
    )
    tx.save(appointment, condition=Appointment.sk.does_not_exist())
    for profile in profiles:
        tx.save(
            ClientAppointment(
                org_id,
                ClientAppointment.sk_for(profile.client_id, starts_at, appointment_id),
                appointment_id=appointment_id,
                client_id=profile.client_id,
                starts_at=starts_at,
            )
        )
    for hours in sorted(set(org_settings(org)["reminder_hours"])):
        due = starts_at - timedelta(hours=hours)
        if due > now:
            tx.save(
                Reminder(
                    org_id,
                    Reminder.sk_for(appointment_id, hours),
                    appointment_id=appointment_id,
                    hours=hours,
                    due_at=due,
                    due_hour=Reminder.hour_of(due),
                )
            )
    _queue_for_clients(tx, "appointment_confirmation", appointment, provider, profiles)
    return appointment


def list_appointments(
    actor: Actor, org_id: str, q: PageQuery
) -> tuple[list[Appointment], str | None]:
    """The practice's appointments in booking order, a page at a time (one Query)."""
    access.staff_of(actor, org_id)
    start = paging.decode(q.cursor, {"org_id", "sk"}, {"org_id": org_id})
    return paging.page(
        lambda key: Appointment.query(
            org_id, Appointment.sk.startswith("appt#"), limit=q.limit, last_evaluated_key=key
        ),
        start,
    )


def _clients(org_id: str, client_ids: list[str]) -> list[ClientProfile]:
    if len(set(client_ids)) != len(client_ids):
        raise field_error("client_ids", "Name each client once.")
    found = {p.client_id: p for p in ClientProfile.batch_get([(org_id, c) for c in client_ids])}
    for index, client_id in enumerate(client_ids):
        profile = found.get(client_id)
        if profile is None or profile.status != ProfileStatus.ACTIVE:
            raise field_error(
                f"client_ids.{index}", "No active client with this id in this practice."
            )
    return [found[c] for c in client_ids]


def _queue_for_clients(
    tx: Tx, kind: str, appointment: Appointment, provider: Provider, profiles: list[ClientProfile]
) -> list[EmailJob]:
    """R34: each client of the appointment gets its own email (copies follow the client's)."""
    shown: dict[str, Any] = {
        "starts_at": appointment.starts_at.isoformat(),
        "minutes": appointment.minutes,
        "type": appointment.type,
        "provider": f"{provider.first_name} {provider.last_name}",
    }
    return [
        outbox.queue(
            tx,
            org_id=appointment.org_id,
            kind=kind,
            client_id=profile.client_id,
            to=profile.email,
            context={"client": {"first_name": profile.first_name}, "appointment": shown},
        )
        for profile in profiles
    ]


class _AlreadySent(Conflict):
    def __init__(self) -> None:
        super().__init__("This reminder has been sent.")


REMINDERS_TRIGGER = "reminders"


def send_due_reminders(now: datetime | None = None, budget: Budget | None = None) -> int:
    """The reminder trigger (R44): Query the hours that may hold due reminders, send each once.

    The hours run from the one after the trigger's checkpoint (issue #18: a schedule stopped
    for a day catches up when it comes back) or `REMINDER_LOOKBACK_HOURS` back, whichever is
    earlier. Each reminder leaves the index in the transaction that queues its emails, under
    the condition that it is still in it, so overlapping or repeated ticks send nothing twice."""
    now = now or clock.now()

    def hour(name: str) -> int:
        return sum(
            _send_reminder(reminder, now)
            for reminder in Reminder.due.query(name, Reminder.due_at <= now)
        )

    return checkpoints.catch_up(
        REMINDERS_TRIGGER,
        now,
        slot=checkpoints.HOUR,
        lookback=timedelta(hours=config.REMINDER_LOOKBACK_HOURS),
        handle=hour,
        budget=budget or Budget(),
    )


def _send_reminder(reminder: Reminder, now: datetime) -> int:
    """Queue the reminder's emails, once. One whose appointment has started already (the
    trigger was stopped past its moment) is not sent late, nor one a nearer reminder of the
    same appointment is due with: each client's is recorded `suppressed`, reason `missed`
    (R43, issue #18), and the nearer one goes out alone."""
    appointment = db.get(Appointment, reminder.org_id, Appointment.sk_for(reminder.appointment_id))
    tx = Tx()
    tx.update(
        reminder,
        [Reminder.due_hour.remove(), Reminder.sent_at.set(now)],
        condition=Reminder.due_hour.exists(),
        on_conflict=_AlreadySent,
    )
    missed = appointment is not None and (
        appointment.starts_at <= now or _nearer_one_due(reminder, now)
    )
    if appointment is not None:
        provider = db.get(Provider, reminder.org_id, Provider.sk_for(appointment.provider_id))
        profiles = list(
            ClientProfile.batch_get([(reminder.org_id, c) for c in appointment.client_ids])
        )
        if missed:
            for profile in profiles:
                outbox.record_suppressed(
                    tx,
                    org_id=reminder.org_id,
                    kind="appointment_reminder",
                    reason=MISSED,
                    client_id=profile.client_id,
                    to=profile.email,
                    context={"appointment_id": appointment.appointment_id},
                )
        elif provider is not None:
            _queue_for_clients(tx, "appointment_reminder", appointment, provider, profiles)
    try:
        tx.commit()
    except _AlreadySent:
        return 0
    if missed:
        logs.event(
            "reminder.missed", org_id=reminder.org_id, appointment_id=reminder.appointment_id
        )
        return 0
    return 1


# A reminder this late was held up by a stopped schedule, not by the tick's own interval.
LATE_AFTER = timedelta(hours=1)


def _nearer_one_due(reminder: Reminder, now: datetime) -> bool:
    """Whether a nearer reminder of the same appointment is due too: a late reminder is
    superseded by it. One Query of the appointment's reminders, made only when late."""
    if now - reminder.due_at < LATE_AFTER:
        return False
    prefix = Reminder.sk_for(reminder.appointment_id, 0)[: -len("0000")]
    return any(
        other.hours < reminder.hours and other.due_at <= now
        for other in Reminder.query(reminder.org_id, Reminder.sk.startswith(prefix))
    )


def of_client(org_id: str, client_id: str, limit: int = 100) -> list[Appointment]:
    """One client's appointments in start order: one Query, one BatchGetItem."""
    filed = ClientAppointment.query(
        org_id,
        ClientAppointment.sk.startswith(ClientAppointment.prefix_for(client_id)),
        limit=limit,
    )
    keys = [(org_id, Appointment.sk_for(item.appointment_id)) for item in filed]
    if not keys:
        return []
    found = {a.appointment_id: a for a in Appointment.batch_get(keys)}
    return [found[sk.removeprefix("appt#")] for _, sk in keys if sk.removeprefix("appt#") in found]
