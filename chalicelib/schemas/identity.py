"""Sign-in and accounts: the login, switching accounts (R3), a password reset's request, the
one-time passcode's request and check, and the hosted pages' hand-over (API.md, B9)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints, model_validator

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


# B9, OAuth 2.1 (RFC 7636): a hand-over code is 256 random bits, URL-safe; a PKCE verifier is
# 43 to 128 unreserved characters; an S256 challenge is the verifier's SHA-256, base64url
# without padding (exactly 43 characters); `state` is the app's own value, given back as sent.
HandOverCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{20,100}$")]
CodeVerifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._~-]{43,128}$")]
CodeChallenge = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{43}$")]
State = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._~-]{1,200}$")]


class Exchange(Body):
    """B9: trade a hosted page's one-time code for the session, with the PKCE verifier when the
    sign-in was started with a challenge."""

    code: HandOverCode
    code_verifier: CodeVerifier | None = None


class PortalRequest(BaseModel):
    """What an app may add to the hosted pages' address (`/sign-in?…`), carried through every
    step to the hand-over: its PKCE challenge (S256 only) and its `state`."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    code_challenge: CodeChallenge | None = None
    code_challenge_method: Literal["S256"] | None = None
    state: State | None = None

    @model_validator(mode="after")
    def _method_with_challenge(self) -> PortalRequest:
        if (self.code_challenge is None) != (self.code_challenge_method is None):
            raise ValueError("A code_challenge comes with code_challenge_method=S256.")
        return self
