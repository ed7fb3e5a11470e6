"""The emails table: one item an email job, the outbox and the idempotency record (R39–R43).

A job is written in the same transaction as the change that causes it, and ends `sent`,
`suppressed` (with its reason) or `dead`. While it is open (`queued`, or `sending` under a
worker's claim) it carries `open_shard`, which puts it in the sparse index the outbox sweep reads.

R53: a job never stores its rendered body, and the link or code it carries only sealed
(chalicelib/sealing.py) until it ends; `purge_at` expires it after the organization's retention.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from enum import StrEnum

from pynamodb.attributes import (
    JSONAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection

from chalicelib import config
from chalicelib.models.base import BaseMeta, Stored

OPEN = "open"


class EmailStatus(StrEnum):
    """An email job's status: open while queued or sending, then ended sent, suppressed or dead."""

    QUEUED = "queued"
    SENDING = "sending"  # under a worker's claim
    SENT = "sent"
    SUPPRESSED = "suppressed"  # with its reason (R43)
    DEAD = "dead"  # failed every delivery


class EmailsByOrg(GlobalSecondaryIndex):
    """The email log of an organization, newest first."""

    class Meta:
        index_name = "emails_by_org"
        projection = AllProjection()

    org_id = UnicodeAttribute(hash_key=True)
    created_at = UTCDateTimeAttribute(range_key=True)


class EmailsByClient(GlobalSecondaryIndex):
    """The email log of one client of an organization."""

    class Meta:
        index_name = "emails_by_client"
        projection = AllProjection()

    org_client = UnicodeAttribute(hash_key=True)
    created_at = UTCDateTimeAttribute(range_key=True)


class OpenEmails(GlobalSecondaryIndex):
    """Jobs not yet ended, oldest first: what the outbox sweep re-sends (sparse)."""

    class Meta:
        index_name = "emails_open"
        projection = KeysOnlyProjection()

    open_shard = UnicodeAttribute(hash_key=True)
    created_at = UTCDateTimeAttribute(range_key=True)


# A day's sent emails spread over this many index partitions (issue #18): one partition takes
# about 1,000 writes a second, so a busy day (a campaign, a backlog drained at once) would throttle
# the index and, through it, the worker's outcome writes. A reader Queries each shard.
SENT_DAY_SHARDS = 8


def sent_day_key(job_id: str, sent_at: datetime) -> str:
    """The `sent_by_day` partition of a job sent at `sent_at`: its UTC day and a shard fixed by
    its id (a redelivery writes the same key)."""
    shard = int(hashlib.sha256(job_id.encode()).hexdigest()[:8], 16) % SENT_DAY_SHARDS
    return f"{sent_at.astimezone(UTC).strftime('%Y-%m-%d')}#{shard}"


def sent_day_keys(day: str) -> list[str]:
    """Every partition of one UTC day ("2026-12-01")."""
    return [f"{day}#{shard}" for shard in range(SENT_DAY_SHARDS)]


class EmailsSentByDay(GlobalSecondaryIndex):
    """Sent emails by UTC day and shard: the local outbox page and "what went out today"
    (sparse)."""

    class Meta:
        index_name = "emails_sent_by_day"
        projection = AllProjection()

    sent_day = UnicodeAttribute(hash_key=True)  # "2026-12-01#3": day and shard
    sent_at = UTCDateTimeAttribute(range_key=True)


class EmailJob(Stored):
    class Meta(BaseMeta):
        table_name = config.table("emails")

    job_id = UnicodeAttribute(hash_key=True)
    org_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    # The profile the email is about (R36-R38 decide on it), or the identity for identity-level
    # emails (R9). `to` is set when the email is sent or suppressed: the address it went to.
    client_id = UnicodeAttribute(null=True)
    identity_id = UnicodeAttribute(null=True)
    to = UnicodeAttribute(null=True)
    context = JSONAttribute(default=dict)  # never a secret: the kind's link or code is sealed
    # R53: the link or code, encrypted for the worker, bound to `context["token_hash"]`; removed
    # when the job ends (sent, suppressed, dead).
    sealed_secret = UnicodeAttribute(null=True)
    # R29: a copy of the job `copy_of` for one copy holder of the client ("contact:ct_…" or
    # "link:lk_…"); its id is derived from both, so a redelivered parent adds no second copy.
    copy_of = UnicodeAttribute(null=True)
    copy_holder = UnicodeAttribute(null=True)
    status = UnicodeAttribute(default=EmailStatus.QUEUED)
    reason = UnicodeAttribute(null=True)
    attempts = NumberAttribute(default=0)
    claim = UnicodeAttribute(null=True)
    claimed_at = UTCDateTimeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    sent_at = UTCDateTimeAttribute(null=True)
    branded_org_id = UnicodeAttribute(null=True)
    subject = UnicodeAttribute(null=True)
    ses_message_id = UnicodeAttribute(null=True)
    last_error = UnicodeAttribute(null=True)
    # R54: what SES reported after sending it (`bounced`, `complained`): the log shows it.
    feedback = UnicodeAttribute(null=True)

    org_client = UnicodeAttribute(null=True)
    open_shard = UnicodeAttribute(null=True)
    sent_day = UnicodeAttribute(null=True)
    # R53: DynamoDB deletes the job this long after it was written (the organization's
    # `email_retention_days`, set when it ends; the default until then).
    purge_at = TTLAttribute(null=True)

    by_org = EmailsByOrg()
    by_client = EmailsByClient()
    open_jobs = OpenEmails()
    sent_by_day = EmailsSentByDay()


class LocalOutboxCopy(Stored):
    """What the local stage's sender handed SES, by SES message id, for the local outbox page
    (API.md "Local stage only"). Only `make run` and the tests write it (services/local_stage);
    no other stage has a copy of a sent body (R53)."""

    class Meta(BaseMeta):
        table_name = config.table("emails")

    key = UnicodeAttribute(hash_key=True, attr_name="job_id")
    subject = UnicodeAttribute()
    html = UnicodeAttribute()
    text = UnicodeAttribute()
    purge_at = TTLAttribute()

    @staticmethod
    def key_for(message_id: str) -> str:
        return f"local#{message_id}"


class NotificationRequest(Stored):
    """R41, R54: what a call to notify a client with an `Idempotency-Key` answered, so that a
    retry answers the same. Written under `does_not_exist` in the same transaction as the
    notification's email job: of two calls racing with one key, one writes both, the other
    reads this and answers it. `fingerprint` is the hash of what was asked (client, kind,
    data): the same key with another request is refused."""

    class Meta(BaseMeta):
        table_name = config.table("emails")

    key = UnicodeAttribute(hash_key=True, attr_name="job_id")
    fingerprint = UnicodeAttribute()
    notification_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    client_id = UnicodeAttribute()
    job_ids = JSONAttribute(default=list)
    to = UnicodeAttribute(null=True)  # the address the first answer showed its email queued to
    created_at = UTCDateTimeAttribute()
    purge_at = TTLAttribute()

    @staticmethod
    def key_for(org_id: str, idempotency_key: str) -> str:
        digest = hashlib.sha256(idempotency_key.encode()).hexdigest()
        return f"idempotency#{org_id}#{digest}"


class SuppressedAddress(Stored):
    """R54: an address SES reported bounced (permanently) or complaining: no organization's
    email goes to it until staff clear it. Keyed by the normalized address, so the worker
    reads it by key (no Scan); `org_ids` are the practices whose emails it stopped or whose
    email bounced there, the ones whose staff see it."""

    class Meta(BaseMeta):
        table_name = config.table("emails")

    key = UnicodeAttribute(hash_key=True, attr_name="job_id")
    address = UnicodeAttribute()
    reason = UnicodeAttribute()  # bounced | complained
    at = UTCDateTimeAttribute()
    reported_job_id = UnicodeAttribute(null=True)  # the email SES reported on
    org_ids = UnicodeSetAttribute(default=set)

    @staticmethod
    def key_for(address: str) -> str:
        return f"suppressed#{address}"


class TriggerCheckpoint(Stored):
    """Where a scheduled trigger stopped (R42, R44, B5): the last slot (hour or day) it handled
    whole, or the page a sweep reads next. A trigger that comes back after an outage catches up
    from here instead of from its look-back alone; one that ran out of time resumes here."""

    class Meta(BaseMeta):
        table_name = config.table("emails")

    key = UnicodeAttribute(hash_key=True, attr_name="job_id")
    handled = UnicodeAttribute(null=True)  # the last slot handled whole ("2026-12-01T13")
    cursor = JSONAttribute(null=True)  # a sweep's next page (DynamoDB's LastEvaluatedKey)
    updated_at = UTCDateTimeAttribute()

    @staticmethod
    def key_for(trigger: str) -> str:
        return f"checkpoint#{trigger}"
