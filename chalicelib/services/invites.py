"""Invites (R11, R13): what becomes of a new client's invitation.

Client creation calls `for_new_client` inside its transaction. The invite token and its email
job arrive with the onboarding and email issues (#3, #4); they will add their writes to the
same `tx`, so adding a client and queuing its invite stay one atomic change. Until then the
answer says truthfully that no invite was sent, and why.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.db import Tx
from chalicelib.models.orgs import Organization
from chalicelib.models.profiles import ClientProfile


@dataclass(frozen=True)
class InviteOutcome:
    status: str  # "not_sent" until invites exist; later also "pending"
    reason: str | None = None


def for_new_client(
    tx: Tx, org: Organization, profile: ClientProfile, *, send: bool
) -> InviteOutcome:
    del tx, org  # the seam for the invite token and email job (issue #4)
    if profile.email is None:
        return InviteOutcome("not_sent", "no_email")  # R11: no email, no invite, no portal
    if not send:
        return InviteOutcome("not_sent", "not_requested")
    return InviteOutcome("not_sent", "invites_not_available_yet")
