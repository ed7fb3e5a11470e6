"""Organizations: signing a practice up, its branding and settings (R9), its providers, its
groups with their join links (R16, B3) and the portal settings and features at each level
(R35)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints

from chalicelib.rules import senders
from chalicelib.schemas.common import (
    Body,
    Email,
    FutureMoment,
    Id,
    Name,
    Password,
    Scopes,
    Text,
)

Role = Literal["admin", "provider", "staff"]
Plan = Literal["starter", "plus", "enterprise"]
# B3: a group link's expiry.
Expiry = FutureMoment


_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


def _color(value: str) -> str:
    if not _COLOR.match(value):
        raise ValueError("A colour is written #RRGGBB.")
    return value.lower()


def _https_url(value: str) -> str:
    if not re.match(r"^https://[^\s<>\"']+$", value) or len(value) > 2048:
        raise ValueError("A logo URL starts with https:// and has no spaces.")
    return value


def _practice_name(value: str) -> str:
    problem = senders.name_problem(value)
    if problem:
        raise ValueError(f"A practice's name {problem}")
    return value


# A practice's name, display name and sender name may stand beside the platform's one sending
# address, so none may pose as another sender there (rules/senders.py).
PracticeName = Annotated[Name, AfterValidator(_practice_name)]


class Branding(Body):
    display_name: PracticeName | None = None
    logo_url: Annotated[str, AfterValidator(_https_url)] | None = None
    primary_color: Annotated[str, AfterValidator(_color)] | None = None
    sender_name: PracticeName | None = None
    reply_to: Email | None = None
    footer: Annotated[str, StringConstraints(max_length=500)] | None = None


class WelcomeMessage(Body):
    enabled: bool = False
    text: Text = ""


class AgeTier(Body):
    """B4: caregiver access to a minor below `until_age` is limited to `scopes` (null: all)."""

    until_age: Annotated[int, Field(ge=1, le=18)]
    scopes: Scopes | None = None


class OrgSettings(Body):
    invite_ttl_days: Annotated[int, Field(ge=1, le=365)] | None = None
    follow_up_days: (
        Annotated[list[Annotated[int, Field(ge=1, le=90)]], Field(max_length=5)] | None
    ) = None
    reminder_hours: (
        Annotated[list[Annotated[int, Field(ge=1, le=336)]], Field(max_length=5)] | None
    ) = None
    welcome_message: WelcomeMessage | None = None
    otp_login: bool | None = None
    caregiver_access: bool | None = None
    caregiver_age_tiers: Annotated[list[AgeTier], Field(max_length=5)] | None = None
    default_provider_id: Id | None = None
    # R53: at least a month, so a failed email is still in the log when staff look for it.
    email_retention_days: Annotated[int, Field(ge=30, le=3650)] | None = None


class Features(Body):
    """R35: each feature true (on), false (off) or null (not set at this level); one field a
    feature of rules.settings.FEATURES (tests/test_layers.py holds them equal)."""

    bills: bool | None = None
    appointments: bool | None = None
    goals: bool | None = None
    journal: bool | None = None
    documents: bool | None = None
    forms: bool | None = None
    care_plans: bool | None = None
    programs: bool | None = None
    packages: bool | None = None


class PortalSettings(Body):
    features: Features | None = None
    login_enabled: bool | None = None


class AdminSignup(Body):
    email: Email
    password: Password
    first_name: Name
    last_name: Name


Slug = Annotated[
    str,
    StringConstraints(min_length=3, max_length=40, pattern=r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$"),
]


class CreateOrg(Body):
    name: PracticeName
    slug: Slug
    plan: Plan = "starter"
    admin: AdminSignup


class UpdateOrg(Body):
    name: PracticeName | None = None
    plan: Plan | None = None
    branding: Branding | None = None
    settings: OrgSettings | None = None


class AddProvider(Body):
    email: Email
    first_name: Name
    last_name: Name
    role: Role = "provider"


class UpdateProvider(Body):
    """R49: a partial change; a field left out (or null) is unchanged."""

    first_name: Name | None = None
    last_name: Name | None = None
    role: Role | None = None


class Deactivate(Body):
    """R49: who takes the leaving provider's active clients, when it has any."""

    successor_id: Id | None = None


IntakeForms = Annotated[list[Name], Field(max_length=50)]


class CreateGroup(Body):
    name: Name
    intake_forms: IntakeForms = []
    portal_settings: PortalSettings | None = None
    default_provider_id: Id | None = None
    link_expires_at: Expiry | None = None
    link_max_signups: Annotated[int, Field(ge=1, le=100_000)] | None = None


class UpdateGroup(Body):
    name: Name | None = None
    intake_forms: IntakeForms | None = None
    portal_settings: PortalSettings | None = None
    default_provider_id: Id | None = None
    link_expires_at: Expiry | None = None
    link_max_signups: Annotated[int, Field(ge=1, le=100_000)] | None = None
