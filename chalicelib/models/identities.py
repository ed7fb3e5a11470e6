"""The identities table: logins, the claim that makes an email unique, sign-in throttles."""

from __future__ import annotations

from pynamodb.attributes import (
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)

from chalicelib import config
from chalicelib.models.base import BaseMeta, Stored

TABLE = config.table("identities")


class Identity(Stored):
    """One login (R1). `session_epoch` moves on a password change, killing older sessions (R46).

    `password_org_id` names the organization where the current password was set by staff (R8)
    or chosen at a sign-up, while nobody has proven the mailbox with it: such a password opens
    only that organization's accounts (R50). None once the owner used a link or code sent to
    the address with it, and for a login without a password.
    """

    class Meta(BaseMeta):
        table_name = TABLE

    id = UnicodeAttribute(hash_key=True)
    email = UnicodeAttribute()
    password_hash = UnicodeAttribute(null=True)
    password_org_id = UnicodeAttribute(null=True)
    last_org_id = UnicodeAttribute(null=True)
    session_epoch = NumberAttribute(default=0)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()


class EmailClaim(Stored):
    """The item that makes a normalized email belong to at most one identity (R1)."""

    class Meta(BaseMeta):
        table_name = TABLE

    key = UnicodeAttribute(hash_key=True, attr_name="id")
    identity_id = UnicodeAttribute()

    @staticmethod
    def key_for(email: str) -> str:
        return f"email#{email}"


class SignInFailures(Stored):
    """Failed sign-ins of one email or source address in one fixed window (R45)."""

    class Meta(BaseMeta):
        table_name = TABLE

    key = UnicodeAttribute(hash_key=True, attr_name="id")
    failures = NumberAttribute(default=0)
    expires_at = TTLAttribute()
