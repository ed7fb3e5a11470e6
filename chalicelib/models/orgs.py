"""The orgs table: an organization's own item, its providers, groups and unique claims.

All items of one practice share its `org_id`, so staff pages read one partition. Claims that
must be unique across practices (slugs, group invite codes) have partitions of their own.
"""

from __future__ import annotations

from enum import StrEnum

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from chalicelib import config
from chalicelib.models.base import BaseMeta, Stored, list_of

TABLE = config.table("orgs")


class Role(StrEnum):
    """A staff member's role in an organization (what `access` lets each do)."""

    ADMIN = "admin"
    PROVIDER = "provider"
    STAFF = "staff"


class ProviderStatus(StrEnum):
    """A staff membership's status: only active memberships enter or act (R2, R49)."""

    INVITED = "invited"  # R49: added, its staff invite not yet accepted
    ACTIVE = "active"
    DEACTIVATED = "deactivated"  # R49: left the practice; stays on the records naming it


class Organization(Stored):
    """A practice: name, slug, branding, plan and settings.

    Written whole by several writers (the PATCH, the portal settings, sign-up), so it carries a
    version: a write from a stale read fails instead of undoing another (issue #11)."""

    class Meta(BaseMeta):
        table_name = TABLE

    org_id = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default="org")
    name = UnicodeAttribute()
    slug = UnicodeAttribute()
    plan = UnicodeAttribute(default="starter")
    branding = JSONAttribute(default=dict)
    settings = JSONAttribute(default=dict)
    portal_settings = JSONAttribute(default=dict)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    version = VersionAttribute()


class StaffByIdentityIndex(GlobalSecondaryIndex):
    """Staff memberships of one identity: its staff accounts in the account list (R2)."""

    class Meta:
        index_name = "staff_by_identity"
        projection = AllProjection()

    identity_id = UnicodeAttribute(hash_key=True)
    org_id = UnicodeAttribute(range_key=True)


class Provider(Stored):
    """An identity's membership of an organization, with its role."""

    class Meta(BaseMeta):
        table_name = TABLE

    org_id = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    provider_id = UnicodeAttribute()
    identity_id = UnicodeAttribute()
    email = UnicodeAttribute()
    first_name = UnicodeAttribute()
    last_name = UnicodeAttribute()
    role = UnicodeAttribute()
    status = UnicodeAttribute(default=ProviderStatus.ACTIVE)
    created_at = UTCDateTimeAttribute()
    accepted_at = UTCDateTimeAttribute(null=True)  # R49: when its staff invite was accepted
    deactivated_at = UTCDateTimeAttribute(null=True)
    by_identity = StaffByIdentityIndex()

    @staticmethod
    def sk_for(provider_id: str) -> str:
        return f"provider#{provider_id}"


class StaffClaim(Stored):
    """Says that an identity is staff of this organization: one membership each (R12)."""

    class Meta(BaseMeta):
        table_name = TABLE

    org_id = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    provider_id = UnicodeAttribute()

    @staticmethod
    def sk_for(identity_id: str) -> str:
        return f"staff#{identity_id}"


class Group(Stored):
    """A set of clients with its own invite link, intake forms and portal settings.

    Versioned like Organization: a PATCH from a stale read must not write back a `link_code`
    a rotation replaced (R16) nor a sign-up count a sign-up moved (B3)."""

    class Meta(BaseMeta):
        table_name = TABLE

    org_id = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    group_id = UnicodeAttribute()
    name = UnicodeAttribute()
    intake_forms = list_of(UnicodeAttribute, default=list)
    portal_settings = JSONAttribute(default=dict)
    default_provider_id = UnicodeAttribute(null=True)
    link_code = UnicodeAttribute()
    link_expires_at = UTCDateTimeAttribute(null=True)
    link_max_signups = NumberAttribute(null=True)
    signups = NumberAttribute(default=0)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    version = VersionAttribute()

    @staticmethod
    def sk_for(group_id: str) -> str:
        return f"group#{group_id}"


class SlugClaim(Stored):
    """Makes an organization's slug unique across the platform."""

    class Meta(BaseMeta):
        table_name = TABLE

    key = UnicodeAttribute(hash_key=True, attr_name="org_id")
    sk = UnicodeAttribute(range_key=True, default="slug")
    owner_org_id = UnicodeAttribute()

    @staticmethod
    def key_for(slug: str) -> str:
        return f"slug#{slug}"


class JoinCode(Stored):
    """A group invite code (R16): found by the code alone; a rotated code stays, marked dead."""

    class Meta(BaseMeta):
        table_name = TABLE

    key = UnicodeAttribute(hash_key=True, attr_name="org_id")
    sk = UnicodeAttribute(range_key=True, default="join")
    owner_org_id = UnicodeAttribute()
    group_id = UnicodeAttribute()
    live = BooleanAttribute(default=True)

    @staticmethod
    def key_for(code: str) -> str:
        return f"join#{code}"
