"""Whether an account is open (R2, R37, R38), with the reason when it is not.

Every place that asks "may this identity act in this account", or "may this client be sent
this email" (the account list, switching, every authenticated request, caregiver grants, the
email worker) asks here, so archiving a profile or shutting its login closes it everywhere.
"""

from __future__ import annotations

from typing import Literal, TypeGuard

from chalicelib.models.orgs import Provider
from chalicelib.models.profiles import ClientProfile
from chalicelib.rules.settings import Effective

ClosedReason = Literal["archived", "login_shut", "not_theirs"]


def client_account_closed(
    profile: ClientProfile | None, settings: Effective | None, identity_id: str | None = None
) -> ClosedReason | None:
    """Why the client account is closed, or None when it is open: archived (R38, a missing
    profile too), another identity's (R2, when `identity_id` is given), or its effective login
    shut at the organization, group or client level (R35, R37)."""
    if profile is None or profile.status != "active":
        return "archived"
    if identity_id is not None and profile.identity_id != identity_id:
        return "not_theirs"
    if settings is None or not settings.login_enabled:
        return "login_shut"
    return None


def client_account_open(
    profile: ClientProfile | None, identity_id: str, settings: Effective | None
) -> TypeGuard[ClientProfile]:
    """R2/R37/R38: the identity owns the profile, which is active and whose login is open."""
    return client_account_closed(profile, settings, identity_id) is None


def staff_account_open(provider: Provider | None, identity_id: str) -> TypeGuard[Provider]:
    """The identity's own staff membership, and active."""
    return (
        provider is not None and provider.identity_id == identity_id and provider.status == "active"
    )
