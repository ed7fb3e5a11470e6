"""Caregiver grants (R30, R31, R33, B4, B5): whether one is open now, and what it allows.

Pure rules over records already read, so the account list, switching and every request of a
caregiver session decide alike, from what they read afresh (R31: no stored snapshot; B4: the
age tier from the care receiver's date of birth, on each request).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from chalicelib import clock
from chalicelib.models.links import GrantStatus, Link
from chalicelib.models.orgs import Organization
from chalicelib.models.profiles import ClientProfile, ClientType
from chalicelib.rules.accounts import client_account_closed
from chalicelib.rules.people import age_on
from chalicelib.rules.settings import SCOPES, Effective, org_settings

PLANS = ("plus", "enterprise")  # R30: plan `plus` or higher
ALL = frozenset(SCOPES)


def available(org: Organization | None) -> bool:
    """R30: the organization's plan carries caregiver access and the practice turned it on."""
    return org is not None and org.plan in PLANS and bool(org_settings(org)["caregiver_access"])


def tier_scopes(org: Organization, receiver: ClientProfile, today: date) -> frozenset[str]:
    """B4: what the organization's age tiers allow for this minor today; nothing past the last
    tier (a minor's access ends when they come of age). Adults and minors without a date of
    birth are not tiered."""
    if receiver.client_type != ClientType.MINOR or not receiver.dob:
        return ALL
    age = age_on(date.fromisoformat(receiver.dob), today)
    tiers: list[dict[str, Any]] = sorted(
        org_settings(org)["caregiver_age_tiers"], key=lambda tier: tier["until_age"]
    )
    for tier in tiers:
        if age < tier["until_age"]:
            return frozenset(tier.get("scopes") or SCOPES)
    return frozenset()


def scopes(link: Link, receiver: ClientProfile, org: Organization, today: date) -> frozenset[str]:
    """R33 and B4: the grant's own scopes within the receiver's age tier."""
    grant = link.portal_access or {}
    own = frozenset(grant.get("scopes") or SCOPES)
    return own & tier_scopes(org, receiver, today)


def ended(link: Link, today: date) -> bool:
    """B5: `ends_on` is the last day of access."""
    ends_on = (link.portal_access or {}).get("ends_on")
    if not ends_on:
        return False
    return today > date.fromisoformat(ends_on)


def is_open(
    link: Link | None,
    identity_id: str,
    *,
    caregiver: ClientProfile | None,
    caregiver_settings: Effective | None,
    receiver: ClientProfile | None,
    receiver_settings: Effective | None,
    org: Organization | None,
    today: date | None = None,
) -> bool:
    """May this identity act in the receiver's account through this link right now (R30, R31,
    R37, R38, B4, B5)? Accepted, not ended, its caregiver's own account open to this identity,
    the receiver's account open, the feature available, and some scope left."""
    today = today or clock.now().date()
    if link is None or not link.portal_access or link.grant_identity != identity_id:
        return False
    if link.portal_access.get("status") != GrantStatus.ACTIVE or ended(link, today) or org is None:
        return False
    accounts_open = (
        client_account_closed(caregiver, caregiver_settings) is None
        and client_account_closed(receiver, receiver_settings) is None
    )
    return (
        accounts_open
        and available(org)
        and caregiver is not None
        and receiver is not None
        and caregiver.identity_id == identity_id
        and caregiver.client_id == link.linked_client_id
        and receiver.client_id == link.client_id
        and bool(scopes(link, receiver, org, today))
    )
