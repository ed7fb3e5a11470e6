"""What a visitor without an account sends: the group link's sign-up and sign-in forms (R16,
R23) and the practice public page's bookings and package purchases (R17)."""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints, ValidationInfo, field_validator

from chalicelib.rules import passwords
from chalicelib.schemas.common import Body, Email, FutureMoment, Id, Name, Password


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
