"""R9, B7: the one place that picks whose branding an email carries. Templates never decide.

An email about one organization's business carries that organization's branding. An email
about the identity itself (password reset, one-time passcode) carries its last organization's,
or, where the platform says so (B7), a neutral one when the identity has profiles in several
organizations, so a shared mailbox does not learn where else its owner is a client.
"""

from __future__ import annotations

import email.utils
from functools import lru_cache
from typing import Any

from chalicelib import config, db
from chalicelib.models.identities import Identity
from chalicelib.models.orgs import Organization
from chalicelib.models.profiles import ClientProfile
from chalicelib.rules.email_kinds import EmailKind
from chalicelib.rules.senders import PLATFORM, from_name
from chalicelib.rules.settings import org_branding

NEUTRAL: dict[str, Any] = {
    "display_name": PLATFORM,
    "logo_url": None,
    "primary_color": "#444444",
    "sender_name": PLATFORM,
    "reply_to": None,
    "footer": None,
}


def branding_org(
    kind: EmailKind, own_org: Organization | None, identity: Identity | None
) -> Organization | None:
    """The organization whose branding the email carries; None means the neutral branding.

    `own_org` is the organization of the email's business, already read by the caller."""
    if not kind.identity_level or identity is None:
        return own_org
    if config.NEUTRAL_IDENTITY_EMAILS and _in_several_organizations(identity.id):
        return None
    if own_org is not None and identity.last_org_id in {None, own_org.org_id}:
        return own_org
    return db.get(Organization, identity.last_org_id, "org")


def branding_of(org: Organization | None) -> dict[str, Any]:
    return org_branding(org) if org is not None else NEUTRAL


def from_header(brand: dict[str, Any]) -> str:
    """The email's From: the platform's one address, named "<practice> via Portico", encoded
    as RFC 5322 and 2047 say (quoted, or an encoded word for non-ASCII), so no practice's name
    can pose as another sender or add a header (rules/senders.py)."""
    return _from_header(brand.get("sender_name"), config.MAIL_FROM_ADDRESS)


@lru_cache(maxsize=1024)
def _from_header(sender_name: str | None, address: str) -> str:
    """Cleaned once a sender name, not once an email (issue #17: the worker's CPU)."""
    return email.utils.formataddr((from_name(sender_name), address), charset="utf-8")


def _in_several_organizations(identity_id: str) -> bool:
    seen: set[str] = set()
    for profile in ClientProfile.by_identity.query(identity_id, page_size=20):
        seen.add(profile.org_id)
        if len(seen) > 1:
            return True
    return False
