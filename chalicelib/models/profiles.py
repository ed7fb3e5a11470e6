"""The profiles table: client profiles, and the claims that keep one email per organization.

A profile's list keys are derived from its status, provider and names on every save, so each
way the client list is read (by status, by primary provider) is a Query on an index, in name
order, never a Scan (DESIGN "Data").
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from chalicelib import config
from chalicelib.models.base import BaseMeta, Stored, list_of

TABLE = config.table("profiles")


class ProfileStatus(StrEnum):
    """A client profile's status: archived profiles keep their records but no account (R38)."""

    ACTIVE = "active"
    ARCHIVED = "archived"


class ClientType(StrEnum):
    """R10: a client is an adult or a minor (under 18 by their date of birth)."""

    ADULT = "adult"
    MINOR = "minor"


class ProfilesByIdentity(GlobalSecondaryIndex):
    """An identity's profiles in every organization: the client accounts of R2."""

    class Meta:
        index_name = "profiles_by_identity"
        projection = AllProjection()

    identity_id = UnicodeAttribute(hash_key=True)
    org_id = UnicodeAttribute(range_key=True)


class ProfilesByStatus(GlobalSecondaryIndex):
    class Meta:
        index_name = "profiles_by_status"
        projection = AllProjection()

    org_status = UnicodeAttribute(hash_key=True)
    sort_name = UnicodeAttribute(range_key=True)


class ProfilesByName(GlobalSecondaryIndex):
    class Meta:
        index_name = "profiles_by_name"
        projection = AllProjection()

    org_id = UnicodeAttribute(hash_key=True)
    sort_name = UnicodeAttribute(range_key=True)


class ProfilesByProvider(GlobalSecondaryIndex):
    class Meta:
        index_name = "profiles_by_provider"
        projection = AllProjection()

    org_provider = UnicodeAttribute(hash_key=True)
    sort_name = UnicodeAttribute(range_key=True)


class ProfilesByProviderStatus(GlobalSecondaryIndex):
    class Meta:
        index_name = "profiles_by_provider_status"
        projection = AllProjection()

    org_provider_status = UnicodeAttribute(hash_key=True)
    sort_name = UnicodeAttribute(range_key=True)


class ClientProfile(Stored):
    """One client as one organization knows them (R5: independent of every other profile)."""

    class Meta(BaseMeta):
        table_name = TABLE

    org_id = UnicodeAttribute(hash_key=True)
    client_id = UnicodeAttribute(range_key=True)
    identity_id = UnicodeAttribute(null=True)
    email = UnicodeAttribute(null=True)
    shared_email = BooleanAttribute(default=False)
    first_name = UnicodeAttribute()
    last_name = UnicodeAttribute()
    phone = UnicodeAttribute(null=True)
    dob = UnicodeAttribute(null=True)
    client_type = UnicodeAttribute(default=ClientType.ADULT)
    group_id = UnicodeAttribute(null=True)
    primary_provider_id = UnicodeAttribute()
    care_team = list_of(UnicodeAttribute, default=list)
    status = UnicodeAttribute(default=ProfileStatus.ACTIVE)
    source = UnicodeAttribute(default="staff")
    portal_settings = JSONAttribute(default=dict)
    # R26: a summary of each link of this profile, either side, by link id (written with the
    # link), so the client list shows links without a read per client.
    link_summary = JSONAttribute(default=dict)
    # R29: this client's copy holders by holder ("contact:ct_…": address and first name,
    # "link:lk_…": the linked client), written with each contact and link
    # (services/families/holders.py), so the email worker reads them with the client. Null
    # for a profile stored before it existed: the worker then Queries its partition.
    copy_holders = JSONAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    archived_at = UTCDateTimeAttribute(null=True)
    # R21: the first activation (group sign-up, invite acceptance) posts the welcome message.
    activated_at = UTCDateTimeAttribute(null=True)
    # B11: the client asked to leave (from the portal), and why; nothing else changes until
    # staff archive. Kept so staff see it on the record, and so a repeat within a day is one.
    leave_requested_at = UTCDateTimeAttribute(null=True)
    leave_reason = UnicodeAttribute(null=True)
    # R55: the search entries this profile has (services/clients/search.py writes them with
    # every save): `source` (the names, email and status they index), the `name_key` and the
    # `partitions` they are filed under. Null for a profile stored before search existed.
    searched_as = JSONAttribute(null=True)
    version = VersionAttribute()

    # Derived list keys: set by `before_save` (called by every save and Tx.save), never by hand.
    sort_name = UnicodeAttribute()
    org_status = UnicodeAttribute()
    org_provider = UnicodeAttribute()
    org_provider_status = UnicodeAttribute()

    by_identity = ProfilesByIdentity()
    by_status = ProfilesByStatus()
    by_name = ProfilesByName()
    by_provider = ProfilesByProvider()
    by_provider_status = ProfilesByProviderStatus()

    def before_save(self) -> None:
        self.sort_name = "#".join(
            (self.last_name.casefold(), self.first_name.casefold(), self.client_id)
        )
        self.org_status = f"{self.org_id}#{self.status}"
        self.org_provider = f"{self.org_id}#{self.primary_provider_id}"
        self.org_provider_status = f"{self.org_id}#{self.primary_provider_id}#{self.status}"
        if self.searched_as is not None and self.searched_as.get("source") != self.search_source():
            # R55: a change to a name, the email or the status saved without its search entries
            # would leave the client found under its old name, or not at all. Every save goes
            # through services/clients/search.save, which writes both.
            raise AssertionError("a client profile saved without its search entries")

    def search_source(self) -> list[str]:
        """What the search entries index, as stored: a change to any of it moves them (R55)."""
        return [self.first_name, self.last_name, self.email or "", self.status]

    def save(self, *args: Any, **kwargs: Any) -> Any:
        self.before_save()
        return super().save(*args, **kwargs)


class OrgEmailClaim(Stored):
    """The active profiles of one organization using one email (R12).

    `client_ids` is empty (absent) when no active profile uses it; a new profile may take it
    only then, unless the request says the email is shared by family members.
    """

    class Meta(BaseMeta):
        table_name = TABLE

    org_id = UnicodeAttribute(hash_key=True)
    key = UnicodeAttribute(range_key=True, attr_name="client_id")
    client_ids = UnicodeSetAttribute(null=True)
    shared = BooleanAttribute(default=False)

    @staticmethod
    def key_for(email: str) -> str:
        return f"email#{email}"


class ImportKey(Stored):
    """R18: a client imported without an email, known by name and date of birth, so that
    importing the same file again does not add them twice."""

    class Meta(BaseMeta):
        table_name = TABLE

    org_id = UnicodeAttribute(hash_key=True)
    key = UnicodeAttribute(range_key=True, attr_name="client_id")
    imported_client_id = UnicodeAttribute()

    @staticmethod
    def key_for(fingerprint: str) -> str:
        return f"import#{fingerprint}"
