"""Sign-in and accounts: the login, switching accounts (R3), a password reset's request and the
one-time passcode's request and check (API.md)."""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

from chalicelib.schemas.common import Body, Email


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
