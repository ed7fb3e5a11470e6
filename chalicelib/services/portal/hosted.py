"""The hosted sign-in pages (B9): whose branding the sign-in page wears, whether it offers a
one-time code (R22), and the accounts the chooser and the switch page show (R2, R3).

Signing in itself is `auth.sign_in` and `passcodes.verify`, which every way in shares; these
pages only add what a person needs to see to choose.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.errors import NotFound
from chalicelib.models.identities import Identity
from chalicelib.models.orgs import Organization
from chalicelib.models.profiles import ClientProfile
from chalicelib.rules.actors import Account, Actor
from chalicelib.rules.settings import org_settings
from chalicelib.services.clients import public
from chalicelib.services.identity import accounts, auth


@dataclass(frozen=True)
class SignInPage:
    """The practice whose sign-in link this is (None: the neutral page, B7) and whether the
    page offers "email me a code" (R22)."""

    org: Organization | None
    offers_passcode: bool


def sign_in_page(slug: str | None) -> SignInPage:
    """`?org=slug` wears that practice's branding; no slug, or one no practice has, the neutral
    look. A practice's page offers a code where the practice allows codes (R22). The neutral
    page offers it always: a code opens only accounts of practices that allow them, and asking
    answers alike whether or not one is sent (R51)."""
    if not slug:
        return SignInPage(None, offers_passcode=True)
    try:
        org = public.practice(slug)
    except NotFound:
        return SignInPage(None, offers_passcode=True)
    return SignInPage(org, offers_passcode=bool(org_settings(org)["otp_login"]))


@dataclass(frozen=True)
class Choice:
    """One account as the chooser shows it: its practice (name and logo, R9), whose account it
    is (the client's own profile or, for a caregiver, the care receiver's, R30), and whether
    the session is in it now."""

    account: Account
    org: Organization
    person: ClientProfile | None
    current: bool


@dataclass(frozen=True)
class Chooser:
    identity: Identity
    choices: list[Choice]


def chooser(actor: Actor) -> Chooser:
    """R2, R3: every account the session may enter, each with what tells it apart. Read afresh,
    so an archived or shut account is not offered (R37, R38)."""
    listed = auth.me(actor)
    people = accounts.people_of(listed.accounts)
    current = actor.account.account_id if actor.account else None
    return Chooser(
        actor.identity,
        [
            Choice(
                account,
                listed.orgs[account.org_id],
                people.get((account.org_id, account.client_id or "")),
                account.account_id == current,
            )
            for account in listed.accounts
        ],
    )
