"""Contacts of a client (R24): people kept on the client's profile, who may get copies of
its emails (R29). They live in the partition of the profile they were made on.
"""

from __future__ import annotations

from chalicelib import clock, db, ids
from chalicelib.db import Tx
from chalicelib.errors import NotFound, field_error
from chalicelib.models.links import Contact, owner_for
from chalicelib.rules.actors import Actor
from chalicelib.schemas.families import CreateContact, UpdateContact
from chalicelib.services import access, audit, records
from chalicelib.services.families import holders


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
    holders.keep(tx, profile, contact)  # R29: with `notify`, a copy holder
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
    profile = records.client(org_id, client_id)
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
    holders.keep(tx, profile, contact)  # R29: its address, name or `notify` may have changed
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
    profile = records.client(org_id, client_id)
    contact = _load_contact(org_id, client_id, contact_id)
    tx = Tx()
    tx.delete(contact, condition=Contact.sk.exists(), on_conflict=_contact_missing)
    holders.keep(tx, profile, contact, gone=True)
    audit.record(
        tx,
        org_id=org_id,
        action="contact.removed",
        actor=permit.actor,
        client_id=client_id,
        details={"contact_id": contact_id},
    )
    tx.commit()
