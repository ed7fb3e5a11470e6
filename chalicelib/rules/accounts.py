"""Whether an account is open (R2, R37, R38), with the reason when it is not.

Every place that asks "may this identity act in this account", or "may this client be sent
this email" (the account list, switching, every authenticated request, caregiver grants, the
email worker) asks here, so archiving a profile or shutting its login closes it everywhere.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TypeGuard

from chalicelib.models.orgs import Provider, ProviderStatus
from chalicelib.models.profiles import ClientProfile, ProfileStatus
from chalicelib.rules.settings import Effective


class ClosedReason(StrEnum):
    """Why a client account is closed; an email it would get is suppressed with it (R43)."""

    ARCHIVED = "archived"  # the profile is archived, or missing (R38)
    LOGIN_SHUT = "login_shut"  # R35, R37
    NOT_THEIRS = "not_theirs"  # another identity's profile (R2)


def client_account_closed(
    profile: ClientProfile | None, settings: Effective | None, identity_id: str | None = None
) -> ClosedReason | None:
    """Why the client account is closed, or None when it is open: archived (R38, a missing
    profile too), another identity's (R2, when `identity_id` is given), or its effective login
    shut at the organization, group or client level (R35, R37)."""
    if profile is None or profile.status != ProfileStatus.ACTIVE:
        return ClosedReason.ARCHIVED
    if identity_id is not None and profile.identity_id != identity_id:
        return ClosedReason.NOT_THEIRS
    if settings is None or not settings.login_enabled:
        return ClosedReason.LOGIN_SHUT
    return None


def client_account_open(
    profile: ClientProfile | None, identity_id: str, settings: Effective | None
) -> TypeGuard[ClientProfile]:
    """R2/R37/R38: the identity owns the profile, which is active and whose login is open."""
    return client_account_closed(profile, settings, identity_id) is None


def staff_account_open(provider: Provider | None, identity_id: str) -> TypeGuard[Provider]:
    """The identity's own staff membership, and active."""
    return (
        provider is not None
        and provider.identity_id == identity_id
        and provider.status == ProviderStatus.ACTIVE
    )
