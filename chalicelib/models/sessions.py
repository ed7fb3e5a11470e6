"""The sessions table: one item a session, keyed by the hash of its token (R46)."""

from __future__ import annotations

from enum import StrEnum

from pynamodb.attributes import (
    BooleanAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
)

from chalicelib import config
from chalicelib.models.base import BaseMeta, Stored


class SessionKind(StrEnum):
    """The kind of account a session is in: none until one is entered. The last three are the
    account kinds (`rules.actors.AccountKind`)."""

    NONE = "none"
    CLIENT = "client"
    CAREGIVER = "caregiver"
    STAFF = "staff"


class Session(Stored):
    """A signed-in identity and, once entered, the one account it acts in (R2).

    `kind` (a `SessionKind`) is none before an account is entered, then the account's kind;
    `epoch` must equal
    the identity's `session_epoch`, so a password change ends every older session at once.
    """

    class Meta(BaseMeta):
        table_name = config.table("sessions")

    token_hash = UnicodeAttribute(hash_key=True)
    identity_id = UnicodeAttribute()
    epoch = NumberAttribute(default=0)
    kind = UnicodeAttribute(default=SessionKind.NONE)
    org_id = UnicodeAttribute(null=True)
    client_id = UnicodeAttribute(null=True)
    provider_id = UnicodeAttribute(null=True)
    link_id = UnicodeAttribute(null=True)  # a caregiver session: the link holding the grant
    # A client session: the group its profile had when entered, read with the profile; a hint
    # only, checked against the profile on every request (`sessions.authenticate`).
    group_id = UnicodeAttribute(null=True)
    # R22: a session opened with a one-time passcode enters only client accounts of the
    # organizations that allowed the code (`by_passcode`: bounded even when the set is absent,
    # since DynamoDB stores no empty set); R50: one opened with an unproven password, only that
    # password's organization. Absent for a proven password's sign-in (any account of the list).
    by_passcode = BooleanAttribute(default=False)
    only_org_ids = UnicodeSetAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    expires_at = TTLAttribute()
