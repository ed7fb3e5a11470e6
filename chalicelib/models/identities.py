"""The identities table: logins, the claim that makes an email unique, sign-in throttles."""

from __future__ import annotations

from pynamodb.attributes import (
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.models import Model

from chalicelib import config
from chalicelib.models.base import BaseMeta

TABLE = config.table("identities")


class Identity(Model):
    """One login (R1). `session_epoch` moves on a password change, killing older sessions (R46)."""

    class Meta(BaseMeta):
        table_name = TABLE

    id = UnicodeAttribute(hash_key=True)
    email = UnicodeAttribute()
    password_hash = UnicodeAttribute(null=True)
    last_org_id = UnicodeAttribute(null=True)
    session_epoch = NumberAttribute(default=0)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()


class EmailClaim(Model):
    """The item that makes a normalized email belong to at most one identity (R1)."""

    class Meta(BaseMeta):
        table_name = TABLE

    key = UnicodeAttribute(hash_key=True, attr_name="id")
    identity_id = UnicodeAttribute()

    @staticmethod
    def key_for(email: str) -> str:
        return f"email#{email}"


class SignInFailures(Model):
    """Failed sign-ins of one email or source address in one fixed window (R45)."""

    class Meta(BaseMeta):
        table_name = TABLE

    key = UnicodeAttribute(hash_key=True, attr_name="id")
    failures = NumberAttribute(default=0)
    expires_at = TTLAttribute()
