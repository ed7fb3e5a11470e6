"""Who is signed in where: the signed-in answer (a sign-in, a switch, a passcode, /v1/me, a
hand-over's exchange) and each account in it, with its organization (R2, R3, R30); and each
account as the hosted chooser shows it (B9)."""

from __future__ import annotations

from typing import Any

from chalicelib.models.orgs import Organization
from chalicelib.models.sessions import SessionKind
from chalicelib.rules.actors import Account
from chalicelib.rules.settings import org_branding
from chalicelib.services.identity.auth import SignedIn
from chalicelib.services.portal.hosted import Choice


def signed_in_view(result: SignedIn) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "account": account_view(result.account, result.orgs),
        "accounts": [account_view(a, result.orgs) for a in result.accounts],
    }
    if result.token:
        shown["token"] = result.token
    return shown


def account_view(account: Account | None, orgs: dict[str, Organization]) -> dict[str, Any] | None:
    if account is None:
        return None
    org = orgs[account.org_id]
    shown: dict[str, Any] = {
        "account_id": account.account_id,
        "kind": account.kind,
        "org": {"id": org.org_id, "slug": org.slug, "name": org.name},
    }
    if account.client_id:
        shown["client_id"] = account.client_id
    if account.kind == SessionKind.CAREGIVER:
        # R30: the caregiver acts in the care receiver's account, on their behalf.
        shown["on_behalf_of"] = account.client_id
        shown["caregiver_client_id"] = account.caregiver_client_id
    if account.role:
        shown["role"] = account.role
    return shown


def choice_view(choice: Choice) -> dict[str, Any]:
    """One account in the chooser: the practice's display name and logo (its initial on its
    colour when it has none), and in words what kind of account it is and whose."""
    brand = org_branding(choice.org)
    person = choice.person
    name = f"{person.first_name} {person.last_name}" if person else None
    account = choice.account
    if account.kind == SessionKind.CAREGIVER:
        kind = f"Caregiver for {name}" if name else "Caregiver access"
    elif account.kind == SessionKind.STAFF:
        kind = f"Staff account ({account.role})" if account.role else "Staff account"
    else:
        kind = f"Client account: {name}" if name else "Client account"
    return {
        "account_id": account.account_id,
        "practice": brand["display_name"],
        "logo_url": brand["logo_url"],
        "color": brand["primary_color"],
        "initial": (brand["display_name"][:1] or "?").upper(),
        "kind": kind,
        "current": choice.current,
    }
