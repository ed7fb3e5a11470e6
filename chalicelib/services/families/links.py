"""Families: contacts, links between clients, caregiver grants (R24–R33, R47, B5).

Contacts and links live in the partition of the profile they were made on (the link's origin).
A link shows on both profiles and in the client list through a summary kept on each profile in
the link's own transaction (R26). Only the origin edits or removes it (R27). A link alone
grants nothing (R28); a grant is the link's `portal_access`, given with the staff member's
acknowledgment and accepted by the caregiver through a single-use link (R30).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from chalicelib import clock, config, db, ids, logs
from chalicelib.db import Tx
from chalicelib.errors import Conflict, Forbidden, NotFound, field_error
from chalicelib.models.emails import EmailJob
from chalicelib.models.identities import Identity
from chalicelib.models.links import Contact, Link, owner_for
from chalicelib.models.orgs import Organization
from chalicelib.models.profiles import ClientProfile
from chalicelib.models.tokens import Token
from chalicelib.rules import grants
from chalicelib.rules.actors import Actor, client_ref
from chalicelib.rules.passwords import new_password_errors
from chalicelib.rules.settings import org_settings
from chalicelib.schemas import (
    CreateContact,
    CreateLink,
    PortalAccess,
    UpdateContact,
    UpdateLink,
)
from chalicelib.services import access, audit, outbox, records, throttle, tokens
from chalicelib.services.clients import clients
from chalicelib.services.identity import identities, passwords

# B5: the caregiver and the client are reminded this many days before a grant ends.
GRANT_REMINDER_DAYS = 7
# B5: how many days back the reminder trigger looks for reminders not sent yet.
GRANT_REMINDER_LOOKBACK_DAYS = 3


def grant_subject(org_id: str, link_id: str) -> str:
    """The tokens subject of a grant's caregiver invite: a newer invite kills the older."""
    return f"grant:{org_id}:{link_id}"


# Contacts (R24) -------------------------------------------------------------------------------


def _contact_missing() -> NotFound:
    return NotFound("No such contact on this client.", code="contact_not_found")


def add_contact(actor: Actor, org_id: str, client_id: str, req: CreateContact) -> Contact:
    permit = access.may(actor, org_id, client_id)
    profile = records.client(org_id, client_id)
    moment = clock.now()
    contact_id = ids.new_id("ct")
    contact = Contact(
        owner_for(org_id, profile.client_id),
        Contact.sk_for(contact_id),
        contact_id=contact_id,
        org_id=org_id,
        client_id=client_id,
        created_at=moment,
        updated_at=moment,
        **req.model_dump(),
    )
    tx = Tx()
    tx.save(contact, condition=Contact.sk.does_not_exist())
    audit.record(
        tx,
        org_id=org_id,
        action="contact.added",
        actor=permit.actor,
        client_id=client_id,
        details={"contact_id": contact_id, "notify": req.notify},
    )
    tx.commit()
    return contact


def contacts_of(actor: Actor, org_id: str, client_id: str) -> list[Contact]:
    access.may(actor, org_id, client_id)
    records.client(org_id, client_id)
    return _contacts(org_id, client_id)


def _contacts(org_id: str, client_id: str) -> list[Contact]:
    return list(
        Contact.query(
            owner_for(org_id, client_id), Contact.sk.startswith("contact#"), consistent_read=True
        )
    )


def _load_contact(org_id: str, client_id: str, contact_id: str) -> Contact:
    found = db.get(Contact, owner_for(org_id, client_id), Contact.sk_for(contact_id))
    if found is None:
        raise _contact_missing()
    return found


def update_contact(
    actor: Actor, org_id: str, client_id: str, contact_id: str, req: UpdateContact
) -> Contact:
    permit = access.may(actor, org_id, client_id)
    records.client(org_id, client_id)
    contact = _load_contact(org_id, client_id, contact_id)
    changes = req.model_dump(exclude_unset=True)
    for name in ("first_name", "last_name", "relationship", "emergency_contact", "notify"):
        if name in changes and changes[name] is None:
            raise field_error(name, "This field cannot be cleared.")
    for name, value in changes.items():
        setattr(contact, name, value)
    contact.updated_at = clock.now()
    tx = Tx()
    tx.save(contact, condition=Contact.sk.exists(), on_conflict=_contact_missing)
    audit.record(
        tx,
        org_id=org_id,
        action="contact.updated",
        actor=permit.actor,
        client_id=client_id,
        details={"contact_id": contact_id, "fields": sorted(changes)},
    )
    tx.commit()
    return contact


def remove_contact(actor: Actor, org_id: str, client_id: str, contact_id: str) -> None:
    permit = access.may(actor, org_id, client_id)
    records.client(org_id, client_id)
    contact = _load_contact(org_id, client_id, contact_id)
    tx = Tx()
    tx.delete(contact, condition=Contact.sk.exists(), on_conflict=_contact_missing)
    audit.record(
        tx,
        org_id=org_id,
        action="contact.removed",
        actor=permit.actor,
        client_id=client_id,
        details={"contact_id": contact_id},
    )
    tx.commit()


# Links (R25–R28) ------------------------------------------------------------------------------


def _link_missing() -> NotFound:
    return NotFound("No such link on this client.", code="link_not_found")


def _summary(link: Link, side: str) -> dict[str, Any]:
    """R26: what the client list and the profile show of a link: with whom and how."""
    return {
        "link_id": link.link_id,
        "side": side,  # "origin": made on this profile; "linked": made on the other one
        "client_id": link.linked_client_id if side == "origin" else link.client_id,
        "relationship": link.relationship,
        "emergency_contact": link.emergency_contact,
        "caregiver_access": bool(link.portal_access),
    }


def _save_summaries(
    tx: Tx,
    link: Link,
    origin: ClientProfile,
    linked: ClientProfile,
    *,
    remove: bool = False,
    linked_is_new: bool = False,
) -> None:
    """Both profiles carry the link's summary, written with the link (versioned saves, so a
    concurrent change to either profile makes the whole change fail, not one side). A profile
    created in the same transaction is saved there already, with its summary set here."""
    for profile, side in ((origin, "origin"), (linked, "linked")):
        summary = dict(profile.link_summary or {})
        if remove:
            summary.pop(link.link_id, None)
        else:
            summary[link.link_id] = _summary(link, side)
        profile.link_summary = summary
        if not (linked_is_new and profile is linked):
            tx.save(profile)


def create_link(actor: Actor, org_id: str, client_id: str, req: CreateLink) -> Link:
    """R25: link the client to another of the practice, existing or created on the spot (with
    its invite unless declined). With `portal_access`, the linked client becomes the client's
    caregiver once they accept (R30)."""
    permit = access.may(actor, org_id, client_id)
    origin = records.client(org_id, client_id)
    if origin.status != "active":
        raise Conflict("This client is archived; unarchive them first.", code="client_archived")
    org = records.org(org_id)
    if req.portal_access is not None:
        _require_grants(org)

    def write(tx: Tx, linked: ClientProfile, *, new: bool) -> tuple[Link, list[EmailJob]]:
        """The link, its summaries on both sides, its grant and audit event, added to `tx`."""
        if linked.client_id == origin.client_id:
            raise field_error("client_id", "A client cannot be linked to themselves.")
        if set(origin.link_summary or {}) & set(linked.link_summary or {}):
            raise Conflict(
                "These two clients are already linked; edit that link instead.",
                code="already_linked",
            )
        if req.portal_access is not None and linked.identity_id is None:
            raise _needs_email()
        moment = clock.now()
        link_id = ids.new_id("lk")
        link = Link(
            owner_for(org_id, client_id),
            Link.sk_for(link_id),
            link_id=link_id,
            org_id=org_id,
            client_id=client_id,
            linked_client_id=linked.client_id,
            linked=owner_for(org_id, linked.client_id),
            relationship=req.relationship,
            client_type=req.client_type or linked.client_type,
            emergency_contact=req.emergency_contact,
            notify=req.notify,
            created_by=permit.actor,
            created_at=moment,
            updated_at=moment,
        )
        jobs: list[EmailJob] = []
        if req.portal_access is not None:
            jobs = _grant(tx, org, link, origin, linked, req.portal_access, permit.actor)
        tx.save(link, condition=Link.sk.does_not_exist())
        _save_summaries(tx, link, origin, linked, linked_is_new=new)
        audit.record(
            tx,
            org_id=org_id,
            action="link.created",
            actor=permit.actor,
            client_id=client_id,
            details={
                "link_id": link_id,
                "linked_client_id": linked.client_id,
                "relationship": req.relationship,
                "notify": req.notify,
                "new_client": new,
            },
        )
        return link, jobs

    if req.new_client is not None:
        if req.portal_access is not None and req.new_client.email is None:
            raise _needs_email()
        # The new client and the link are one transaction: a refused link leaves no client.
        written: dict[str, tuple[Link, list[EmailJob]]] = {}

        def also(tx: Tx, profile: ClientProfile, _identity: object) -> None:
            written["link"] = write(tx, profile, new=True)

        clients.create(actor, org_id, req.new_client, also=also)
        link, jobs = written["link"]
    else:
        assert req.client_id is not None
        tx = Tx()
        link, jobs = write(tx, _linkable(org_id, req.client_id), new=False)
        tx.commit()
    outbox.dispatch(jobs)
    logs.event("link.created", org_id=org_id, link_id=link.link_id, client_id=client_id)
    return link


def _linkable(org_id: str, client_id: str) -> ClientProfile:
    profile = db.get(ClientProfile, org_id, client_id) if client_id.startswith("cl_") else None
    if profile is None or profile.status != "active":
        raise field_error("client_id", "No active client with this id in this practice.")
    return profile


def links_of(actor: Actor, org_id: str, client_id: str) -> list[tuple[Link, str]]:
    """R26: the links made on this client and those made on others naming it, each with the
    side this client is on: two Queries."""
    access.may(actor, org_id, client_id)
    records.client(org_id, client_id)
    owner = owner_for(org_id, client_id)
    made = Link.query(owner, Link.sk.startswith("link#"), consistent_read=True)
    naming = Link.by_linked.query(owner, Link.sk.startswith("link#"))
    return [(link, "origin") for link in made] + [(link, "linked") for link in naming]


def _origin_link(org_id: str, client_id: str, link_id: str) -> Link:
    """The link, if this client is its origin; R27: from the other side, a refusal that says
    where to change it; else not found."""
    if not link_id.startswith("lk_"):
        raise _link_missing()
    link = db.get(Link, owner_for(org_id, client_id), Link.sk_for(link_id))
    if link is not None:
        return link
    other = next(
        iter(Link.by_linked.query(owner_for(org_id, client_id), Link.sk == Link.sk_for(link_id))),
        None,
    )
    if other is not None:
        raise Forbidden(
            f"This link was made on client {other.client_id}; edit or remove it from that "
            "client's profile.",
            code="not_link_origin",
            origin_client_id=other.client_id,
        )
    raise _link_missing()


def update_link(actor: Actor, org_id: str, client_id: str, link_id: str, req: UpdateLink) -> Link:
    """R25, R27: the origin edits the link's type, relationship and flags, and gives, changes
    or removes (`portal_access: null`, R31) the caregiver grant."""
    permit = access.may(actor, org_id, client_id)
    records.client(org_id, client_id)
    link = _origin_link(org_id, client_id, link_id)
    changes = req.model_dump(exclude_unset=True)
    for name in ("relationship", "client_type", "emergency_contact", "notify"):
        if name in changes:
            if changes[name] is None:
                raise field_error(name, "This field cannot be cleared.")
            setattr(link, name, changes[name])
    origin, linked = _both(link)
    org = records.org(org_id)
    tx = Tx()
    jobs: list[EmailJob] = []
    if "portal_access" in changes:
        if req.portal_access is None:
            _end_grant(tx, link, permit.actor)
        else:
            _require_grants(org)
            if linked.identity_id is None:
                raise _needs_email()
            jobs = _grant(tx, org, link, origin, linked, req.portal_access, permit.actor)
    link.updated_at = clock.now()
    tx.save(link, condition=Link.sk.exists(), on_conflict=_link_missing)
    _save_summaries(tx, link, origin, linked)
    audit.record(
        tx,
        org_id=org_id,
        action="link.updated",
        actor=permit.actor,
        client_id=client_id,
        details={"link_id": link_id, "fields": sorted(changes)},
    )
    tx.commit()
    outbox.dispatch(jobs)
    return link


def remove_link(actor: Actor, org_id: str, client_id: str, link_id: str) -> None:
    """R27: from the origin only. Any grant ends with it, sessions inside included (R31)."""
    permit = access.may(actor, org_id, client_id)
    records.client(org_id, client_id)
    link = _origin_link(org_id, client_id, link_id)
    origin, linked = _both(link)
    tx = Tx()
    if link.portal_access:
        _end_grant(tx, link, permit.actor)
    tx.delete(link, condition=Link.sk.exists(), on_conflict=_link_missing)
    _save_summaries(tx, link, origin, linked, remove=True)
    audit.record(
        tx,
        org_id=org_id,
        action="link.removed",
        actor=permit.actor,
        client_id=client_id,
        details={"link_id": link_id, "linked_client_id": link.linked_client_id},
    )
    tx.commit()


def _both(link: Link) -> tuple[ClientProfile, ClientProfile]:
    found = {
        p.client_id: p
        for p in ClientProfile.batch_get(
            [(link.org_id, link.client_id), (link.org_id, link.linked_client_id)]
        )
    }
    return found[link.client_id], found[link.linked_client_id]


# Caregiver grants (R30–R33, B4, B5) ------------------------------------------------------------


def _require_grants(org: Organization) -> None:
    if not grants.available(org):
        raise Forbidden(
            "Caregiver portal access needs the Plus plan or higher and the practice's "
            "caregiver_access setting turned on.",
            code="caregiver_access_unavailable",
        )


def _needs_email() -> Conflict:
    return Conflict(
        "The linked client has no email, so they have no login to act as a caregiver with. "
        "Add their email first.",
        code="caregiver_needs_email",
    )


def _remind_day(ends_on: date | None, today: date) -> str | None:
    if ends_on is None:
        return None
    return max(ends_on - timedelta(days=GRANT_REMINDER_DAYS), today).isoformat()


def _grant(
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
    accepted = current.get("status") == "active"
    link.portal_access = {
        "status": "active" if accepted else "pending",
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
            context={
                **names,
                "accept_url": f"{config.PUBLIC_URL}/caregiver-invite/{issued.secret}",
                "token_hash": issued.token.token_hash,  # R43: not sent once the grant is gone
                "days": ttl_days,
            },
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


def _end_grant(tx: Tx, link: Link, actor_ref: str) -> None:
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


def remind_ending_grants(now: datetime | None = None) -> int:
    """B5: remind the caregiver and the client, once, before a grant with an end date lapses.
    Grants wait in the sparse `grants_ending` index under the day their reminder is due; the
    trigger Queries the last few days (a missed tick is caught up), never Scans."""
    today = (now or clock.now()).date()
    sent = 0
    for back in range(GRANT_REMINDER_LOOKBACK_DAYS, -1, -1):
        day = (today - timedelta(days=back)).isoformat()
        for link in Link.ending.query(day):
            sent += _remind(link, day)
    return sent


def _remind(link: Link, day: str) -> int:
    grant = link.portal_access or {}
    tx = Tx()
    tx.update(
        link,
        [Link.remind_day.remove()],
        condition=Link.remind_day == day,
        on_conflict=_Reminded,
    )
    jobs: list[EmailJob] = []
    if grant.get("ends_on"):
        receiver, caregiver = _both(link)
        context = {
            "receiver": {"first_name": receiver.first_name},
            "caregiver": {"first_name": caregiver.first_name},
            "ends_on": grant["ends_on"],
        }
        jobs = [
            outbox.queue(
                tx,
                org_id=link.org_id,
                kind="caregiver_access_ending",
                client_id=profile.client_id,
                to=profile.email,
                context={**context, "client": {"first_name": profile.first_name}},
            )
            for profile in (caregiver, receiver)
        ]
    try:
        tx.commit()
    except _Reminded:
        return 0
    outbox.dispatch(jobs)
    return 1


# Accepting a caregiver invite (R30) ---------------------------------------------------------


@dataclass(frozen=True)
class CaregiverInvite:
    """What the accept page shows: the state of the link and, while live, whom it is for."""

    state: str  # live | used | superseded | revoked | expired
    org: Organization | None = None
    token: Token | None = None
    link: Link | None = None
    receiver: ClientProfile | None = None
    caregiver: ClientProfile | None = None
    identity: Identity | None = None

    @property
    def has_password(self) -> bool:
        return bool(self.identity and self.identity.password_hash)


def caregiver_invite(secret: str) -> CaregiverInvite | None:
    """The invite behind a link, or None for an unknown one (404 without any branding)."""
    token = tokens.find(secret, "caregiver_invite")
    if token is None or token.org_id is None:
        return None
    org = db.get(Organization, token.org_id, "org")
    state = tokens.status_of(token)
    if state != "live":
        return CaregiverInvite(state, org, token)
    link_id = str(token.data.get("link_id", ""))
    receiver_id = str(token.data.get("receiver_client_id", ""))
    link = db.get(Link, owner_for(token.org_id, receiver_id), Link.sk_for(link_id))
    if link is None or not link.portal_access:
        return CaregiverInvite("revoked", org, token)
    receiver, caregiver = _both(link)
    identity = identities.get(caregiver.identity_id) if caregiver.identity_id else None
    if identity is None or receiver.status != "active" or caregiver.status != "active":
        return CaregiverInvite("revoked", org, token)
    return CaregiverInvite("live", org, token, link, receiver, caregiver, identity)


def accept_caregiver_invite(
    invite: CaregiverInvite, password: str, confirm: str | None, source: str
) -> None:
    """R30: the caregiver accepts: with their login's password if it has one (throttled like a
    sign-in, R45), else by setting one. The token is consumed under its condition, so two tabs
    accept once; from then on the care receiver's account is in the caregiver's list (R2)."""
    assert invite.state == "live"
    assert invite.identity is not None
    assert invite.link is not None
    assert invite.token is not None
    identity, link = invite.identity, invite.link
    tx = Tx()
    if invite.has_password:
        throttle.check(identity.email, source)
        if not passwords.verify(identity.password_hash, password):
            throttle.record_failure(identity.email, source)
            raise field_error("password", "That password does not match your login.")
    else:
        for field, problem in new_password_errors(password, confirm).items():
            raise field_error(field, problem)  # the first problem, as the page shows one
        identities.set_password(tx, identity, passwords.hash_password(password))
    moment = clock.now()
    tokens.consume(tx, invite.token)
    grant = {**(link.portal_access or {}), "status": "active", "accepted_at": clock.iso(moment)}
    tx.update(
        link,
        [Link.portal_access.set(grant), Link.grant_identity.set(identity.id)],
        # The grant must still be there: removed meanwhile, the link is dead (R31).
        condition=Link.portal_access.exists() & Link.linked_client_id.exists(),
        on_conflict=lambda: Conflict("This access was removed.", code="grant_removed"),
    )
    audit.record(
        tx,
        org_id=link.org_id,
        action="grant.accepted",
        actor=client_ref(link.linked_client_id),
        client_id=link.client_id,
        # R47: a password set here is a password change of the login, audited with it.
        details={
            "link_id": link.link_id,
            "identity_id": identity.id,
            "password_set": not invite.has_password,
        },
    )
    tx.commit()
    logs.event("grant.accepted", org_id=link.org_id, link_id=link.link_id)
