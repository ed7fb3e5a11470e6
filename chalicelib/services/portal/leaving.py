"""Leaving a practice (B11): a client asks from the portal; the practice's staff are told and
decide. The primary provider gets an email in the practice's branding, the audit log and the
client record show the request, and nothing else changes until staff archive the client (R7,
R38): the account, its sessions, its portal and its records stay as they are.

A client asks once a day at most: a repeat within 24 hours answers as the first did and tells
nobody again, so the form cannot flood the practice (the condition is in the write, so two
requests at once tell the practice once).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from chalicelib import clock, db, logs
from chalicelib.db import Tx
from chalicelib.errors import Conflict
from chalicelib.models.orgs import Provider, ProviderStatus
from chalicelib.models.profiles import ClientProfile
from chalicelib.rules.actors import Actor
from chalicelib.schemas.portal import LeaveRequest
from chalicelib.services import access, audit, outbox
from chalicelib.services.clients import arrivals
from chalicelib.services.practices import orgs

ONCE_PER = timedelta(hours=24)


class _AskedMeanwhile(Conflict):
    def __init__(self) -> None:
        super().__init__("This client asked to leave a moment ago.")


def ask_to_leave(actor: Actor, req: LeaveRequest) -> datetime:
    """B11: tell the practice that the client asks to leave; the moment the request was made
    (the earlier one, for a repeat within a day). Only the account's own client asks, never a
    caregiver on their behalf."""
    permit = access.portal(actor, holder_only=True)
    profile = permit.profile
    assert profile is not None
    now = clock.now()
    if profile.leave_requested_at and now - profile.leave_requested_at < ONCE_PER:
        return profile.leave_requested_at
    reason = req.reason or None
    provider = _who_is_told(profile)
    tx = Tx()
    tx.update(
        profile,
        [
            ClientProfile.leave_requested_at.set(now),
            ClientProfile.leave_reason.set(reason)
            if reason
            else ClientProfile.leave_reason.remove(),
        ],
        condition=ClientProfile.leave_requested_at.does_not_exist()
        | (ClientProfile.leave_requested_at <= now - ONCE_PER),
        on_conflict=_AskedMeanwhile,
        # Only the request's own moment is its condition; a staff edit meanwhile is no clash.
        add_version_condition=False,
    )
    outbox.queue(
        tx,
        org_id=profile.org_id,
        kind="leave_requested",
        identity_id=provider.identity_id,
        to=provider.email,
        context={
            "provider": {"first_name": provider.first_name},
            "client": {"first_name": profile.first_name, "last_name": profile.last_name},
            "reason": reason,
            "client_id": profile.client_id,
        },
    )
    audit.record(
        tx,
        org_id=profile.org_id,
        action="client.leave_requested",
        actor=permit.actor,
        client_id=profile.client_id,
        details={"provider_id": provider.provider_id, "reason_given": reason is not None},
    )
    try:
        tx.commit()
    except _AskedMeanwhile:
        again = db.get(ClientProfile, profile.org_id, profile.client_id)
        return (again.leave_requested_at if again else None) or now
    logs.event("client.leave_requested", org_id=profile.org_id, client_id=profile.client_id)
    return now


def _who_is_told(profile: ClientProfile) -> Provider:
    """The client's primary provider; should they no longer be active, the practice's earliest
    admin (the request must reach someone who can archive)."""
    primary = db.get(Provider, profile.org_id, Provider.sk_for(profile.primary_provider_id))
    if primary is not None and primary.status == ProviderStatus.ACTIVE:
        return primary
    return arrivals.founding_admin(orgs.providers_of(profile.org_id))
