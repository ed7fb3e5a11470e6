"""Families (R24–R33): a client's contacts, and a link between two clients with the caregiver
access it may grant."""

from __future__ import annotations

from typing import Any

from chalicelib.handlers.views.common import iso_or_none
from chalicelib.models.links import Contact, Link


def contact_view(contact: Contact) -> dict[str, Any]:
    return {
        "id": contact.contact_id,
        "client_id": contact.client_id,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "email": contact.email,
        "phone": contact.phone,
        "relationship": contact.relationship,
        "emergency_contact": contact.emergency_contact,
        "notify": contact.notify,
        "created_at": iso_or_none(contact.created_at),
        "updated_at": iso_or_none(contact.updated_at),
    }


def link_view(link: Link, side: str = "origin") -> dict[str, Any]:
    """R25-R27: the link from one side; `origin_client_id` is where it is edited."""
    grant = link.portal_access
    return {
        "id": link.link_id,
        "side": side,
        "origin_client_id": link.client_id,
        "linked_client_id": link.linked_client_id,
        "relationship": link.relationship,
        "client_type": link.client_type,
        "emergency_contact": link.emergency_contact,
        "notify": link.notify,
        "portal_access": (
            {
                "status": grant["status"],
                "scopes": grant.get("scopes"),
                "ends_on": grant.get("ends_on"),
                "acknowledged": True,
                "acknowledged_by": grant["acknowledged_by"],
                "acknowledged_at": grant["acknowledged_at"],
                "accepted_at": grant.get("accepted_at"),
            }
            if grant
            else None
        ),
        "created_at": iso_or_none(link.created_at),
        "updated_at": iso_or_none(link.updated_at),
    }
