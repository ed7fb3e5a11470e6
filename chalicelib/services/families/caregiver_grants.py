"""Caregiver grants (R30–R33, B4, B5): a link's `portal_access`, given with the staff
member's acknowledgment, accepted through a single-use link, ended with the link or on its
end date, and reminded before it ends.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from chalicelib import clock, config, sealing
from chalicelib.db import Tx
from chalicelib.errors import Conflict, Forbidden
from chalicelib.models.emails import EmailJob
from chalicelib.models.links import GrantStatus, Link
from chalicelib.models.orgs import Organization
from chalicelib.models.profiles import ClientProfile
from chalicelib.rules import grants
from chalicelib.rules.settings import org_settings
from chalicelib.schemas.families import PortalAccess
from chalicelib.services import audit, checkpoints, outbox, tokens
from chalicelib.services.checkpoints import MISSED, Budget

# B5: the caregiver and the client are reminded this many days before a grant ends.
GRANT_REMINDER_DAYS = 7
# B5: how many days back the reminder trigger looks for reminders not sent yet.
GRANT_REMINDER_LOOKBACK_DAYS = 3


def grant_subject(org_id: str, link_id: str) -> str:
    """The tokens subject of a grant's caregiver invite: a newer invite kills the older."""
    return f"grant:{org_id}:{link_id}"


def both_profiles(link: Link) -> tuple[ClientProfile, ClientProfile]:
    found = {
        p.client_id: p
        for p in ClientProfile.batch_get(
            [(link.org_id, link.client_id), (link.org_id, link.linked_client_id)]
        )
    }
    return found[link.client_id], found[link.linked_client_id]


def require_grants(org: Organization) -> None:
    if not grants.available(org):
        raise Forbidden(
            "Caregiver portal access needs the Plus plan or higher and the practice's "
            "caregiver_access setting turned on.",
            code="caregiver_access_unavailable",
        )


def needs_email() -> Conflict:
    return Conflict(
        "The linked client has no email, so they have no login to act as a caregiver with. "
        "Add their email first.",
        code="caregiver_needs_email",
    )


def _remind_day(ends_on: date | None, today: date) -> str | None:
    if ends_on is None:
        return None
    return max(ends_on - timedelta(days=GRANT_REMINDER_DAYS), today).isoformat()


def set_grant(
    tx: Tx,
    org: Organization,
    link: Link,
    receiver: ClientProfile,
    caregiver: ClientProfile,
    req: PortalAccess,
    actor_ref: str,
) -> list[EmailJob]:
    """R30: give or change the grant. A new grant waits for the caregiver to accept through a
    single-use link; changing the scopes or the end date of an accepted one keeps it accepted.
    The acknowledgment is kept with who gave it and when."""
    moment = clock.now()
    current = link.portal_access or {}
    accepted = current.get("status") == GrantStatus.ACTIVE
    link.portal_access = {
        "status": GrantStatus.ACTIVE if accepted else GrantStatus.PENDING,
        "scopes": list(req.scopes) if req.scopes is not None else None,
        "ends_on": req.ends_on.isoformat() if req.ends_on else None,
        "acknowledged": True,
        "acknowledged_by": actor_ref,
        "acknowledged_at": clock.iso(moment),
        "granted_at": current.get("granted_at") or clock.iso(moment),
        "accepted_at": current.get("accepted_at"),
    }
    link.remind_day = _remind_day(req.ends_on, moment.date())
    audit.record(
        tx,
        org_id=link.org_id,
        action="grant.changed" if current else "grant.given",
        actor=actor_ref,
        client_id=link.client_id,
        details={
            "link_id": link.link_id,
            "caregiver_client_id": caregiver.client_id,
            "scopes": link.portal_access["scopes"],
            "ends_on": link.portal_access["ends_on"],
            "acknowledged": True,
        },
    )
    if accepted:
        return []
    ttl_days = int(org_settings(org)["invite_ttl_days"])
    issued = tokens.issue(
        tx,
        "caregiver_invite",
        grant_subject(link.org_id, link.link_id),
        ttl=timedelta(days=ttl_days),
        org_id=link.org_id,
        client_id=caregiver.client_id,
        identity_id=caregiver.identity_id,
        data={"link_id": link.link_id, "receiver_client_id": receiver.client_id},
    )
    names = {
        "client": {"first_name": caregiver.first_name},
        "receiver": {"first_name": receiver.first_name},
    }
    return [
        outbox.queue(
            tx,
            org_id=link.org_id,
            kind="caregiver_invite",
            client_id=caregiver.client_id,
            to=caregiver.email,
            context={**names, "days": ttl_days},
            # R53: sealed for the worker; R43: not sent once the grant is gone.
            secret=sealing.seal(
                f"{config.PUBLIC_URL}/caregiver-invite/{issued.secret}", issued.token.token_hash
            ),
        ),
        outbox.queue(
            tx,
            org_id=link.org_id,
            kind="caregiver_notice",
            client_id=caregiver.client_id,
            to=caregiver.email,
            context={**names, "copies": link.notify},
        ),
    ]


def end_grant(tx: Tx, link: Link, actor_ref: str) -> None:
    """R31: the grant ends at once; caregiver sessions re-read it on every request."""
    if not link.portal_access:
        return
    tokens.revoke(tx, grant_subject(link.org_id, link.link_id))
    audit.record(
        tx,
        org_id=link.org_id,
        action="grant.removed",
        actor=actor_ref,
        client_id=link.client_id,
        details={"link_id": link.link_id, "caregiver_client_id": link.linked_client_id},
    )
    link.portal_access = None
    link.grant_identity = None
    link.remind_day = None


class _Reminded(Conflict):
    def __init__(self) -> None:
        super().__init__("This grant's reminder has been sent.")


GRANTS_TRIGGER = "grants_ending"


def remind_ending_grants(now: datetime | None = None, budget: Budget | None = None) -> int:
    """B5: remind the caregiver and the client, once, before a grant with an end date lapses.
    Grants wait in the sparse `grants_ending` index under the day their reminder is due; the
    trigger Queries the days from the one after its checkpoint (or the last few, whichever is
    earlier: a stopped schedule catches up, issue #18), never Scans."""
    now = now or clock.now()
    today = now.date()
    return checkpoints.catch_up(
        GRANTS_TRIGGER,
        now,
        slot=checkpoints.DAY,
        lookback=timedelta(days=GRANT_REMINDER_LOOKBACK_DAYS),
        handle=lambda day: sum(_remind(link, day, today) for link in Link.ending.query(day)),
        budget=budget or Budget(),
    )


def _remind(link: Link, day: str, today: date) -> int:
    """One grant's reminder, once. A grant that has ended already (the trigger was stopped
    past its end date) is not reminded late: both emails are recorded `suppressed`, reason
    `missed` (R43, issue #18)."""
    grant = link.portal_access or {}
    tx = Tx()
    tx.update(
        link,
        [Link.remind_day.remove()],
        condition=Link.remind_day == day,
        on_conflict=_Reminded,
    )
    ends_on = grant.get("ends_on")
    missed = bool(ends_on) and date.fromisoformat(str(ends_on)) <= today
    if ends_on:
        receiver, caregiver = both_profiles(link)
        context = {
            "receiver": {"first_name": receiver.first_name},
            "caregiver": {"first_name": caregiver.first_name},
            "ends_on": ends_on,
        }
        for profile in (caregiver, receiver):
            if missed:
                outbox.record_suppressed(
                    tx,
                    org_id=link.org_id,
                    kind="caregiver_access_ending",
                    reason=MISSED,
                    client_id=profile.client_id,
                    to=profile.email,
                    context={"ends_on": ends_on},
                )
            else:
                outbox.queue(
                    tx,
                    org_id=link.org_id,
                    kind="caregiver_access_ending",
                    client_id=profile.client_id,
                    to=profile.email,
                    context={**context, "client": {"first_name": profile.first_name}},
                )
    try:
        tx.commit()
    except _Reminded:
        return 0
    return 0 if missed else 1
