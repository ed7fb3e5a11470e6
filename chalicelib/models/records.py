"""The records table: what a client's portal holds (chat messages, journal entries, …).

R6: every record belongs to exactly one profile; its partition is that profile's, so one write
can never land in two accounts and a profile's records are one Query, newest last.
"""

from __future__ import annotations

from pynamodb.attributes import UnicodeAttribute, UTCDateTimeAttribute

from chalicelib import config
from chalicelib.models.base import BaseMeta, Stored


class PortalRecord(Stored):
    class Meta(BaseMeta):
        table_name = config.table("records")

    owner = UnicodeAttribute(hash_key=True)  # f"{org_id}#{client_id}"
    sk = UnicodeAttribute(range_key=True)  # f"{kind}#{iso time}#{record_id}"
    record_id = UnicodeAttribute()
    kind = UnicodeAttribute()  # chat | journal
    org_id = UnicodeAttribute()
    client_id = UnicodeAttribute()
    author = UnicodeAttribute()  # "provider:pr_…" or "client:cl_…" (a caregiver writes as itself)
    on_behalf_of = UnicodeAttribute(null=True)
    text = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()

    @staticmethod
    def owner_for(org_id: str, client_id: str) -> str:
        return f"{org_id}#{client_id}"

    @staticmethod
    def sk_for(kind: str, created_at: str, record_id: str) -> str:
        return f"{kind}#{created_at}#{record_id}"
