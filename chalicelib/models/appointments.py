"""The appointments table: minimal appointments and their reminders (R34, R44).

Each reminder is its own item, due at a moment and filed under that moment's hour in a sparse
index, so the reminder trigger Queries the few hours it covers, never Scans; a reminder leaves
the index when it is sent, under a condition, so it is sent once whatever the tick rate.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pynamodb.attributes import (
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from chalicelib import config
from chalicelib.models.base import BaseMeta, Stored, list_of

TABLE = config.table("appointments")


class RemindersDue(GlobalSecondaryIndex):
    class Meta:
        index_name = "reminders_due"
        projection = AllProjection()

    due_hour = UnicodeAttribute(hash_key=True)
    due_at = UTCDateTimeAttribute(range_key=True)


class Appointment(Stored):
    class Meta(BaseMeta):
        table_name = TABLE

    org_id = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    appointment_id = UnicodeAttribute()
    provider_id = UnicodeAttribute()
    client_ids = list_of(UnicodeAttribute)
    starts_at = UTCDateTimeAttribute()
    minutes = NumberAttribute()
    type = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()

    @staticmethod
    def sk_for(appointment_id: str) -> str:
        return f"appt#{appointment_id}"


class ClientAppointment(Stored):
    """An appointment filed under each of its clients, in start order: a client's appointments
    (the portal's list) are one Query, never a filter over the practice's (R34, R6)."""

    class Meta(BaseMeta):
        table_name = TABLE

    org_id = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    appointment_id = UnicodeAttribute()
    client_id = UnicodeAttribute()
    starts_at = UTCDateTimeAttribute()

    @staticmethod
    def prefix_for(client_id: str) -> str:
        return f"client#{client_id}#"

    @staticmethod
    def sk_for(client_id: str, starts_at: datetime, appointment_id: str) -> str:
        return f"client#{client_id}#{starts_at.astimezone(UTC).isoformat()}#{appointment_id}"


class Reminder(Stored):
    """One reminder of one appointment, `hours` before it (per organization, R44)."""

    class Meta(BaseMeta):
        table_name = TABLE

    org_id = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    appointment_id = UnicodeAttribute()
    hours = NumberAttribute()
    due_at = UTCDateTimeAttribute()
    due_hour = UnicodeAttribute(null=True)  # removed once sent: the reminder leaves the index
    sent_at = UTCDateTimeAttribute(null=True)
    due = RemindersDue()

    @staticmethod
    def sk_for(appointment_id: str, hours: int) -> str:
        return f"reminder#{appointment_id}#{hours:04d}"

    @staticmethod
    def hour_of(moment: datetime) -> str:
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H")
