"""The links table: a client profile's contacts and its links to other profiles (R24–R33).

Both live in the partition of the profile they were made on (`org_id#client_id`, the link's
origin), so a profile's contacts, links and copy holders (R29) are one Query. A link is found
from its other side through `links_by_linked` (R26), and an accepted caregiver grant through
`grants_by_caregiver`, keyed by the caregiver's identity (R2): both are sparse, and neither
needs a Scan.
"""

from __future__ import annotations

from enum import StrEnum

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from chalicelib import config
from chalicelib.models.base import BaseMeta, Stored

TABLE = config.table("links")


class GrantStatus(StrEnum):
    """A caregiver grant's `status` in `Link.portal_access`: pending until the caregiver accepts
    its single-use link, then active (R30)."""

    PENDING = "pending"
    ACTIVE = "active"


def owner_for(org_id: str, client_id: str) -> str:
    return f"{org_id}#{client_id}"


class LinksByLinked(GlobalSecondaryIndex):
    """Links made on other profiles that name this one (R26: both sides show the link)."""

    class Meta:
        index_name = "links_by_linked"
        projection = AllProjection()

    linked = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)


class GrantsByCaregiver(GlobalSecondaryIndex):
    """Accepted caregiver grants of one identity: its caregiver accounts (R2, R30)."""

    class Meta:
        index_name = "grants_by_caregiver"
        projection = AllProjection()

    grant_identity = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)


class GrantsEnding(GlobalSecondaryIndex):
    """Grants with an end date, by the day their reminder is due (B5): the trigger Queries."""

    class Meta:
        index_name = "grants_ending"
        projection = AllProjection()

    remind_day = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)


class Link(Stored):
    """Client A (the origin, `client_id`) linked to client B (`linked_client_id`).

    `portal_access` is the caregiver grant, when there is one: B may act in A's account (R30).
    """

    class Meta(BaseMeta):
        table_name = TABLE

    owner = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)  # f"link#{link_id}"
    link_id = UnicodeAttribute()
    org_id = UnicodeAttribute()
    client_id = UnicodeAttribute()
    linked_client_id = UnicodeAttribute()
    linked = UnicodeAttribute()  # owner_for(org_id, linked_client_id)
    relationship = UnicodeAttribute()
    client_type = UnicodeAttribute()
    emergency_contact = BooleanAttribute(default=False)
    notify = BooleanAttribute(default=False)
    # {status: pending|active, scopes, ends_on, acknowledged_by, acknowledged_at, granted_at,
    #  accepted_at}; null: no grant (R28: a link alone gives no access).
    portal_access = JSONAttribute(null=True)
    grant_identity = UnicodeAttribute(null=True)  # set once accepted: the caregiver's login
    remind_day = UnicodeAttribute(null=True)  # B5: set while a reminder is still to send
    created_by = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()

    by_linked = LinksByLinked()
    by_caregiver = GrantsByCaregiver()
    ending = GrantsEnding()

    @staticmethod
    def sk_for(link_id: str) -> str:
        return f"link#{link_id}"


class Contact(Stored):
    """A person attached to a profile who is not a client (R24)."""

    class Meta(BaseMeta):
        table_name = TABLE

    owner = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)  # f"contact#{contact_id}"
    contact_id = UnicodeAttribute()
    org_id = UnicodeAttribute()
    client_id = UnicodeAttribute()
    first_name = UnicodeAttribute()
    last_name = UnicodeAttribute()
    email = UnicodeAttribute(null=True)
    phone = UnicodeAttribute(null=True)
    relationship = UnicodeAttribute()
    emergency_contact = BooleanAttribute(default=False)
    notify = BooleanAttribute(default=False)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()

    @staticmethod
    def sk_for(contact_id: str) -> str:
        return f"contact#{contact_id}"
