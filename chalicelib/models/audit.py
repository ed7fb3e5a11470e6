"""The audit table (R47, B6): who did what to which record, when, on whose behalf.

Events of one client live in one partition (`org_id#client_id`), in time order, so a client's
history is one Query; "who entered my account on my behalf" (B6) one Query on the sparse
`audit_on_behalf`; the organization's log a Query on `audit_by_org`.
"""

from __future__ import annotations

from pynamodb.attributes import JSONAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from chalicelib import config
from chalicelib.models.base import BaseMeta, Stored


class AuditByOrg(GlobalSecondaryIndex):
    class Meta:
        index_name = "audit_by_org"
        projection = AllProjection()

    org_id = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)


class AuditOnBehalf(GlobalSecondaryIndex):
    """Events done in a client's account on their behalf (B6), newest last (sparse)."""

    class Meta:
        index_name = "audit_on_behalf"
        projection = AllProjection()

    behalf_subject = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)


class AuditEvent(Stored):
    class Meta(BaseMeta):
        table_name = config.table("audit")

    subject = UnicodeAttribute(hash_key=True)  # f"{org_id}#{client_id}", or f"{org_id}#org"
    sk = UnicodeAttribute(range_key=True)  # f"{iso time}#{event_id}": time order
    event_id = UnicodeAttribute()
    org_id = UnicodeAttribute()
    client_id = UnicodeAttribute(null=True)
    action = UnicodeAttribute()  # e.g. invite.issued, link.created, account.entered
    actor = UnicodeAttribute()  # "provider:pr_…", "client:cl_…", "identity:id_…", "system"
    on_behalf_of = UnicodeAttribute(null=True)  # the care receiver's client id (R30)
    behalf_subject = UnicodeAttribute(null=True)  # `subject`, set only with `on_behalf_of`
    details = JSONAttribute(default=dict)  # ids and flags only (R48)
    at = UTCDateTimeAttribute()
    by_org = AuditByOrg()
    on_behalf = AuditOnBehalf()

    @staticmethod
    def subject_for(org_id: str, client_id: str | None) -> str:
        return f"{org_id}#{client_id or 'org'}"
