"""Links between clients (R25–R28): made on the origin profile, shown on both through a summary
kept on each in the link's own transaction (R26), edited or removed by the origin only (R27).
A link alone grants nothing (R28); its grant is caregiver_grants'.
"""

from __future__ import annotations

from typing import Any

from chalicelib import clock, db, ids, logs
from chalicelib.db import Tx
from chalicelib.errors import Conflict, Forbidden, NotFound, field_error
from chalicelib.models.links import Link, owner_for
from chalicelib.models.profiles import ClientProfile, ProfileStatus
from chalicelib.rules.actors import Actor
from chalicelib.schemas.families import CreateLink, UpdateLink
from chalicelib.services import access, audit, records
from chalicelib.services.clients import arrivals, search
from chalicelib.services.families import holders
from chalicelib.services.families.caregiver_grants import (
    both_profiles,
    end_grant,
    needs_email,
    require_grants,
    set_grant,
)


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
    created in the same transaction is saved there already, with its summary set here. The
    origin's copy holders (R29) are summarised with it."""
    holders.note(origin, link, gone=remove)  # R29: a link with `notify` is a copy holder
    for profile, side in ((origin, "origin"), (linked, "linked")):
        summary = dict(profile.link_summary or {})
        if remove:
            summary.pop(link.link_id, None)
        else:
            summary[link.link_id] = _summary(link, side)
        profile.link_summary = summary
        if not (linked_is_new and profile is linked):
            search.save(tx, profile)


def create_link(actor: Actor, org_id: str, client_id: str, req: CreateLink) -> Link:
    """R25: link the client to another of the practice, existing or created on the spot (with
    its invite unless declined). With `portal_access`, the linked client becomes the client's
    caregiver once they accept (R30)."""
    permit = access.may(actor, org_id, client_id)
    origin = records.client(org_id, client_id)
    if origin.status != ProfileStatus.ACTIVE:
        raise records.client_archived()
    org = records.org(org_id)
    if req.portal_access is not None:
        require_grants(org)

    def write(tx: Tx, linked: ClientProfile, *, new: bool) -> Link:
        """The link, its summaries on both sides, its grant and audit event, added to `tx`."""
        if linked.client_id == origin.client_id:
            raise field_error("client_id", "A client cannot be linked to themselves.")
        if set(origin.link_summary or {}) & set(linked.link_summary or {}):
            raise Conflict(
                "These two clients are already linked; edit that link instead.",
                code="already_linked",
            )
        if req.portal_access is not None and linked.identity_id is None:
            raise needs_email()
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
        if req.portal_access is not None:
            set_grant(tx, org, link, origin, linked, req.portal_access, permit.actor)
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
        return link

    if req.new_client is not None:
        if req.portal_access is not None and req.new_client.email is None:
            raise needs_email()
        # The new client and the link are one transaction: a refused link leaves no client.
        written: dict[str, Link] = {}

        def also(tx: Tx, profile: ClientProfile, _identity: object) -> None:
            written["link"] = write(tx, profile, new=True)

        arrivals.create(actor, org_id, req.new_client, also=also)
        link = written["link"]
    else:
        assert req.client_id is not None
        tx = Tx()
        link = write(tx, _linkable(org_id, req.client_id), new=False)
        tx.commit()
    logs.event("link.created", org_id=org_id, link_id=link.link_id, client_id=client_id)
    return link


def _linkable(org_id: str, client_id: str) -> ClientProfile:
    profile = (
        db.get(ClientProfile, org_id, client_id) if records.names_a_client(client_id) else None
    )
    if profile is None or profile.status != ProfileStatus.ACTIVE:
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
    origin, linked = both_profiles(link)
    org = records.org(org_id)
    tx = Tx()
    if "portal_access" in changes:
        if req.portal_access is None:
            end_grant(tx, link, permit.actor)
        else:
            require_grants(org)
            if linked.identity_id is None:
                raise needs_email()
            set_grant(tx, org, link, origin, linked, req.portal_access, permit.actor)
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
    return link


def remove_link(actor: Actor, org_id: str, client_id: str, link_id: str) -> None:
    """R27: from the origin only. Any grant ends with it, sessions inside included (R31)."""
    permit = access.may(actor, org_id, client_id)
    records.client(org_id, client_id)
    link = _origin_link(org_id, client_id, link_id)
    origin, linked = both_profiles(link)
    tx = Tx()
    if link.portal_access:
        end_grant(tx, link, permit.actor)
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
