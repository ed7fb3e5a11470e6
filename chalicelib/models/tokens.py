"""The tokens table: secret links and codes (R13, R20, R22, R30), stored only as hashes.

Each token belongs to a *subject* (a profile's invite, an identity's reset, a grant's caregiver
invite). The subject's `LiveToken` item names its one live token, so issuing a new token and
killing the old one is one transaction (DESIGN "Supersede, atomically"). Ended tokens stay, with
their status, until `purge_at`, so an old link can say why it is dead (R15) and an invite's
history is visible (B1).
"""

from __future__ import annotations

from enum import StrEnum

from pynamodb.attributes import (
    JSONAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from chalicelib import config, ids
from chalicelib.models.base import BaseMeta, Stored, list_of

TABLE = config.table("tokens")


class TokenStatus(StrEnum):
    """A token's status. Every token is written live and ends used, superseded or revoked;
    `expired` is derived (a live token past `expires_at`, `tokens.status_of`), never written."""

    LIVE = "live"
    USED = "used"
    SUPERSEDED = "superseded"
    REVOKED = "revoked"
    EXPIRED = "expired"


class TokensBySubject(GlobalSecondaryIndex):
    """A subject's tokens, newest last: invite history (B1) and the send limit (R20)."""

    class Meta:
        index_name = "tokens_by_subject"
        projection = AllProjection()

    subject = UnicodeAttribute(hash_key=True)
    created_at = UTCDateTimeAttribute(range_key=True)


class FollowUpsDue(GlobalSecondaryIndex):
    """Invites with a follow-up still to send, filed under its due hour (R14, R44). Sparse: an
    invite leaves it when its last follow-up is sent or it stops being live, so the trigger
    Queries the few hours it covers, never Scans."""

    class Meta:
        index_name = "tokens_follow_ups_due"
        projection = AllProjection()

    follow_up_hour = UnicodeAttribute(hash_key=True)
    follow_up_at = UTCDateTimeAttribute(range_key=True)


class Token(Stored):
    """One secret. `status` is live, used, superseded or revoked; a live token past
    `expires_at` is expired (derived, never written)."""

    class Meta(BaseMeta):
        table_name = TABLE

    token_hash = UnicodeAttribute(hash_key=True)
    kind = UnicodeAttribute()  # invite | reset | otp | caregiver_invite | join (R16, R51)
    subject = UnicodeAttribute()
    org_id = UnicodeAttribute(null=True)
    client_id = UnicodeAttribute(null=True)
    identity_id = UnicodeAttribute(null=True)
    status = UnicodeAttribute(default=TokenStatus.LIVE)
    data = JSONAttribute(default=dict)
    attempts = NumberAttribute(default=0)
    created_at = UTCDateTimeAttribute()
    expires_at = UTCDateTimeAttribute()
    ended_at = UTCDateTimeAttribute(null=True)
    purge_at = TTLAttribute()
    follow_up_hour = UnicodeAttribute(null=True)  # set while a follow-up is due (R14)
    follow_up_at = UTCDateTimeAttribute(null=True)
    renewal_requested_at = UTCDateTimeAttribute(null=True)  # B2: once per dead link
    by_subject = TokensBySubject()
    follow_ups_due = FollowUpsDue()


class LiveToken(Stored):
    """The pointer from a subject to its one live token (R13: a newer one kills the older)."""

    class Meta(BaseMeta):
        table_name = TABLE

    key = UnicodeAttribute(hash_key=True, attr_name="token_hash")
    live_hash = UnicodeAttribute()
    issued_at = UTCDateTimeAttribute()

    @staticmethod
    def key_for(subject: str) -> str:
        return f"live#{subject}"


class SendLog(Stored):
    """When staff last sent a client invites or resets (R20: at most 5 in 24 hours).

    One item per client holding the moments of the sends still inside the window, written in
    the send's own transaction under its version (PynamoDB's condition that it is unchanged
    since it was read), so two racing sends cannot both take the fifth place."""

    class Meta(BaseMeta):
        table_name = TABLE

    key = UnicodeAttribute(hash_key=True, attr_name="token_hash")
    sent = list_of(UTCDateTimeAttribute, default=list)
    version = VersionAttribute()
    purge_at = TTLAttribute()

    @staticmethod
    def key_for(org_id: str, client_id: str) -> str:
        return f"sends#{org_id}#{client_id}"


class HandOver(Stored):
    """A one-time code a hosted page hands the portal in place of a session (B9): stored only
    as its hash, for 60 seconds, traded once for the session it names (POST /v1/auth/exchange).

    `claimed_at` is set by the one exchange that wins the code, under the condition that none
    did before (R52); a claimed code stays dead until `purge_at` removes it. `challenge` is the
    PKCE S256 challenge a native app sent with its sign-in, if any (OAuth 2.1)."""

    class Meta(BaseMeta):
        table_name = TABLE

    key = UnicodeAttribute(hash_key=True, attr_name="token_hash")
    session_hash = UnicodeAttribute()
    challenge = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    expires_at = UTCDateTimeAttribute()
    claimed_at = UTCDateTimeAttribute(null=True)
    purge_at = TTLAttribute()

    @staticmethod
    def key_for(code: str) -> str:
        return f"handover#{ids.token_hash(code)}"
