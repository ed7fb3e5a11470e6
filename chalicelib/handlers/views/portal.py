"""The client portal and its settings (R35): a level's own and effective settings, a journal
entry or chat message (R6), and the portal's own profile."""

from __future__ import annotations

from typing import Any

from chalicelib.handlers.views.common import iso_or_none
from chalicelib.models.profiles import ClientProfile
from chalicelib.models.records import PortalRecord
from chalicelib.rules.settings import Effective
from chalicelib.services.portal.portal_levels import Levelled


def levelled_view(levelled: Levelled) -> dict[str, Any]:
    """R35: a level's own values (null: not set) and the effective ones."""
    return {"own": levelled.own, "effective": effective_view(levelled.effective)}


def effective_view(effective: Effective) -> dict[str, Any]:
    return {"features": dict(effective.features), "login_enabled": effective.login_enabled}


def record_view(record: PortalRecord) -> dict[str, Any]:
    """A journal entry or chat message of one profile (R6)."""
    return {
        "id": record.record_id,
        "client_id": record.client_id,
        "author": record.author,
        "on_behalf_of": record.on_behalf_of,
        "text": record.text,
        "created_at": iso_or_none(record.created_at),
    }


def portal_profile_view(profile: ClientProfile, hidden: tuple[str, ...]) -> dict[str, Any]:
    """The portal's own profile: what the client sees of themselves (no staff-only fields);
    a caregiver outside the `profile` scope gets it without the `hidden` details (R33)."""
    details = {"email": profile.email, "phone": profile.phone, "dob": profile.dob}
    return {
        "id": profile.client_id,
        "first_name": profile.first_name,
        "last_name": profile.last_name,
        **{name: value for name, value in details.items() if name not in hidden},
        "client_type": profile.client_type,
        "hidden": sorted(hidden),
    }
