"""Families, contacts and caregivers (R24–R33): a client's contacts, the links between two
clients, and the portal access a link may grant a caregiver (R30, R33, B5)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import AfterValidator, model_validator

from chalicelib.schemas.clients import CreateClient
from chalicelib.schemas.common import Body, ClientType, Email, Id, Name, Phone, Scopes

Relationship = Literal[
    "caregiver",
    "child",
    "dependent",
    "family_member",
    "legal_guardian",
    "parent",
    "spouse",
    "other",
]


class CreateContact(Body):
    first_name: Name
    last_name: Name
    email: Email | None = None
    phone: Phone | None = None
    relationship: Relationship
    emergency_contact: bool = False
    notify: bool = False


class UpdateContact(Body):
    """PATCH: a field left out keeps its value; `null` clears email and phone."""

    first_name: Name | None = None
    last_name: Name | None = None
    email: Email | None = None
    phone: Phone | None = None
    relationship: Relationship | None = None
    emergency_contact: bool | None = None
    notify: bool | None = None


def _future_day(value: date) -> date:
    if value <= date.today():
        raise ValueError("An end date is a day after today.")
    if value.year >= 2100:
        raise ValueError("An end date before 2100.")
    return value


class PortalAccess(Body):
    """R30: the staff member acknowledges that the caregiver will see the account's sensitive
    information; R33: the grant may be limited to some features; B5: it may end on a day."""

    acknowledged: Literal[True]
    scopes: Scopes | None = None
    ends_on: Annotated[date, AfterValidator(_future_day)] | None = None


class CreateLink(Body):
    client_id: Id | None = None
    new_client: CreateClient | None = None
    relationship: Relationship
    client_type: ClientType | None = None
    emergency_contact: bool = False
    notify: bool = False
    portal_access: PortalAccess | None = None

    @model_validator(mode="after")
    def _one_client(self) -> CreateLink:
        if (self.client_id is None) == (self.new_client is None):
            raise ValueError("Name an existing client (client_id) or a new one (new_client).")
        return self


class UpdateLink(Body):
    """PATCH: a field left out keeps its value; `portal_access: null` removes the grant."""

    relationship: Relationship | None = None
    client_type: ClientType | None = None
    emergency_contact: bool | None = None
    notify: bool | None = None
    portal_access: PortalAccess | None = None
