"""The emails table: one item an email job, the outbox and the idempotency record (R39–R43).

A job is written in the same transaction as the change that causes it, and ends `sent`,
`suppressed` (with its reason) or `dead`. While it is open (`queued`, or `sending` under a
worker's claim) it carries `open_shard`, which puts it in the sparse index the outbox sweep reads.
"""

from __future__ import annotations

from enum import StrEnum

from pynamodb.attributes import (
    JSONAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib import config
from chalicelib.models.base import BaseMeta

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


class EmailsSentByDay(GlobalSecondaryIndex):
    """Sent emails by UTC day: the local outbox page and "what went out today" (sparse)."""

    class Meta:
        index_name = "emails_sent_by_day"
        projection = AllProjection()

    sent_day = UnicodeAttribute(hash_key=True)
    sent_at = UTCDateTimeAttribute(range_key=True)


class EmailJob(Model):
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
    context = JSONAttribute(default=dict)
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
    html = UnicodeAttribute(null=True)
    text = UnicodeAttribute(null=True)
    ses_message_id = UnicodeAttribute(null=True)
    last_error = UnicodeAttribute(null=True)

    org_client = UnicodeAttribute(null=True)
    open_shard = UnicodeAttribute(null=True)
    sent_day = UnicodeAttribute(null=True)

    by_org = EmailsByOrg()
    by_client = EmailsByClient()
    open_jobs = OpenEmails()
    sent_by_day = EmailsSentByDay()
