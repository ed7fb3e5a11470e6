"""Request bodies and query strings, validated by pydantic into the contract's 400 (API.md).

Bodies are strict (no "1" for 1) and closed (an unknown field is an error, so a typo never
silently does nothing). Limits: names 100 characters, free text 10,000.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from chalicelib.rules import passwords
from chalicelib.rules.settings import Scope

NAME_MAX = 100
TEXT_MAX = 10_000

# Names are one line of printable text: no control characters (NUL, newlines, escapes).
Name = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=NAME_MAX, pattern=r"^[^\x00-\x1f\x7f]+$"
    ),
]
Text = Annotated[str, StringConstraints(max_length=TEXT_MAX)]
Id = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Password = Annotated[
    str, StringConstraints(min_length=passwords.MIN_LENGTH, max_length=passwords.MAX_LENGTH)
]
Phone = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9][0-9 ().-]{2,30}$")
]
Role = Literal["admin", "provider", "staff"]
Plan = Literal["starter", "plus", "enterprise"]
ClientType = Literal["adult", "minor"]


def normalize_email(value: str) -> str:
    """The one form an email is stored and compared in (R1): syntax-checked, lower-cased."""
    if len(value) > 254:
        raise ValueError("An email address has at most 254 characters.")
    try:
        checked = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"Not a valid email address: {exc}") from None
    return checked.normalized.lower()


Email = Annotated[str, AfterValidator(normalize_email)]


def _past_date(value: date) -> date:
    if value > date.today() or value.year < 1900:
        raise ValueError("A date of birth is a past date after 1900.")
    return value


BirthDate = Annotated[date, AfterValidator(_past_date)]


def _this_century(value: datetime) -> datetime:
    """A moment kept in UTC, between 2000 and 2100: what Portico schedules and stores."""
    problem = "A moment between 2000 and 2100, with its UTC offset."
    try:
        value = value.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 shifted past the calendar's ends
        raise ValueError(problem) from None
    if not 2000 <= value.year < 2100:
        raise ValueError(problem)
    return value


def _to_come(value: datetime) -> datetime:
    if value <= datetime.now(UTC):
        raise ValueError("A moment in the future.")
    return value


Moment = Annotated[AwareDatetime, AfterValidator(_this_century)]
FutureMoment = Annotated[Moment, AfterValidator(_to_come)]
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


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, str_max_length=TEXT_MAX)


# Sign-in and accounts -------------------------------------------------------------------


class Login(Body):
    email: Email
    password: Annotated[str, StringConstraints(min_length=1, max_length=256)]


class PasswordResetRequest(Body):
    email: Email


class OtpRequest(Body):
    email: Email


class OtpVerify(Body):
    email: Email
    code: Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")]


class Switch(Body):
    account_id: Annotated[str, StringConstraints(min_length=1, max_length=200)]


# Organizations ----------------------------------------------------------------------------


class Branding(Body):
    display_name: Name | None = None
    logo_url: Annotated[str, AfterValidator(_https_url)] | None = None
    primary_color: Annotated[str, AfterValidator(_color)] | None = None
    sender_name: Name | None = None
    reply_to: Email | None = None
    footer: Annotated[str, StringConstraints(max_length=500)] | None = None


def _each_once(values: list[str]) -> list[str]:
    if len(set(values)) != len(values):
        raise ValueError("Name each scope once.")
    return values


Scopes = Annotated[list[Scope], Field(max_length=10), AfterValidator(_each_once)]


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
    name: Name
    slug: Slug
    plan: Plan = "starter"
    admin: AdminSignup


class UpdateOrg(Body):
    name: Name | None = None
    plan: Plan | None = None
    branding: Branding | None = None
    settings: OrgSettings | None = None


class AddProvider(Body):
    email: Email
    first_name: Name
    last_name: Name
    role: Role = "provider"


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


# Clients ------------------------------------------------------------------------------------

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


# Families, contacts and caregivers (R24–R33) ------------------------------------------------

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


class ImportQuery(BaseModel):
    """R18: invites are off unless the request asks (`?send_invites=true`)."""

    model_config = ConfigDict(extra="forbid")

    send_invites: bool = False


class JoinSignUp(Body):
    """R16: the group link's sign-up form (a form body, not JSON)."""

    first_name: Name
    last_name: Name
    email: Email
    password: Password
    password_confirm: Annotated[str, StringConstraints(max_length=256)]

    @field_validator("password_confirm")
    @classmethod
    def _same_password(cls, value: str, info: ValidationInfo) -> str:
        if value != info.data.get("password"):
            raise ValueError(passwords.DIFFERENT)
        return value


class JoinSignIn(Body):
    """R16, R23: an email with a login signs in with that login's password to join."""

    first_name: Name
    last_name: Name
    email: Email
    password: Annotated[str, StringConstraints(min_length=1, max_length=256)]


class PublicBooking(Body):
    """R17: an anonymous booking through the practice's public page."""

    email: Email
    first_name: Name
    last_name: Name
    starts_at: FutureMoment
    provider_id: Id | None = None


class PublicPurchase(Body):
    """R17: an anonymous package purchase through the practice's public page."""

    email: Email
    first_name: Name
    last_name: Name
    package: Name


class SetPassword(Body):
    password: Password


class ListClientsQuery(BaseModel):
    """Query strings arrive as text, so this one converts ("20" is a limit of 20)."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["active", "archived", "all"] = "active"
    provider_id: Id | None = None
    limit: Annotated[int, Field(ge=1, le=100)] = 50
    cursor: Annotated[str, StringConstraints(max_length=2000)] | None = None


class PageQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: Annotated[int, Field(ge=1, le=100)] = 50
    cursor: Annotated[str, StringConstraints(max_length=2000)] | None = None


# Appointments ---------------------------------------------------------------------------------


class CreateAppointment(Body):
    provider_id: Id
    client_ids: Annotated[list[Id], Field(min_length=1, max_length=20)]
    starts_at: FutureMoment
    minutes: Annotated[int, Field(ge=5, le=24 * 60)]
    type: Name


class EmailLogQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_id: Id | None = None
    limit: Annotated[int, Field(ge=1, le=100)] = 50
    cursor: Annotated[str, StringConstraints(max_length=2000)] | None = None


class AuditQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_id: Id | None = None
    limit: Annotated[int, Field(ge=1, le=100)] = 50
    cursor: Annotated[str, StringConstraints(max_length=2000)] | None = None


class JournalEntry(Body):
    text: Annotated[str, StringConstraints(min_length=1, max_length=TEXT_MAX)]


class TickBody(Body):
    now: Moment | None = None
