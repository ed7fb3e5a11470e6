"""Clients: adding one (R10–R12), changing one, a password staff set (R8), the client list's
query and search (R55), the CSV import's (R18)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from chalicelib.schemas.common import Body, ClientType, Email, Id, Name, Password, Phone


def _past_date(value: date) -> date:
    if value > date.today() or value.year < 1900:
        raise ValueError("A date of birth is a past date after 1900.")
    return value


BirthDate = Annotated[date, AfterValidator(_past_date)]
CareTeam = Annotated[list[Id], Field(max_length=20)]


class CreateClient(Body):
    first_name: Name
    last_name: Name
    email: Email | None = None
    phone: Phone | None = None
    dob: BirthDate | None = None
    client_type: ClientType | None = None
    group_id: Id | None = None
    primary_provider_id: Id | None = None
    care_team: CareTeam = []
    send_invite: bool = True
    shared_email: bool = False


class UpdateClient(Body):
    """PATCH: a field left out keeps its value; `null` clears the optional ones."""

    first_name: Name | None = None
    last_name: Name | None = None
    email: Email | None = None
    phone: Phone | None = None
    dob: BirthDate | None = None
    client_type: ClientType | None = None
    group_id: Id | None = None
    primary_provider_id: Id | None = None
    care_team: CareTeam | None = None
    shared_email: bool | None = None


class SetPassword(Body):
    password: Password


class ListClientsQuery(BaseModel):
    """Query strings arrive as text, so this one converts ("20" is a limit of 20)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    status: Literal["active", "archived", "all"] = "active"
    provider_id: Id | None = None
    # R55: the start of a first name, last name or email (an email is at most 254 characters).
    q: Annotated[str, StringConstraints(max_length=254)] | None = None
    limit: Annotated[int, Field(ge=1, le=100)] = 50
    cursor: Annotated[str, StringConstraints(max_length=2000)] | None = None


class ImportQuery(BaseModel):
    """R18: invites are off unless the request asks (`?send_invites=true`)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    send_invites: bool = False
