"""A practice's settings and branding with their defaults, and the Client Portal settings that
resolve from organization to group to client (R9, R35, R37, B4). Pure: over records already read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

from chalicelib.models.orgs import Group, Organization
from chalicelib.models.profiles import ClientProfile

# R35: the Client Portal's features, each on unless a level turns it off.
Feature = Literal[
    "bills",
    "appointments",
    "goals",
    "journal",
    "documents",
    "forms",
    "care_plans",
    "programs",
    "packages",
]
FEATURES: tuple[Feature, ...] = get_args(Feature)
# R33: what a caregiver grant may be limited to: the portal features, the chat, and the care
# receiver's contact details and date of birth (`profile`; their name is shown in every scope).
Scope = Literal[Feature, "chat", "profile"]
SCOPES: tuple[Scope, ...] = get_args(Scope)

DEFAULT_SETTINGS: dict[str, Any] = {
    "invite_ttl_days": 30,
    "follow_up_days": [3, 7],
    "reminder_hours": [24],
    "welcome_message": {"enabled": False, "text": ""},
    "otp_login": False,
    "caregiver_access": False,
    # B4: caregiver access to a minor by the minor's age: everything under 12, the practical
    # features from 12 to 17 (not the journal nor the chat), nothing from 18.
    "caregiver_age_tiers": [
        {"until_age": 12, "scopes": None},
        {"until_age": 18, "scopes": ["appointments", "bills", "forms", "packages"]},
    ],
    "default_provider_id": None,
    # R53: email jobs (the email log's lines) are deleted this many days after they are written.
    "email_retention_days": 400,
}


def org_settings(org: Organization) -> dict[str, Any]:
    """The organization's settings with defaults filled in: what every rule reads."""
    return {**DEFAULT_SETTINGS, **org.settings}


def org_branding(org: Organization) -> dict[str, Any]:
    """R9: the organization's branding with defaults filled in."""
    return {
        "display_name": org.name,
        "logo_url": None,
        "primary_color": "#2f6f5e",
        "sender_name": org.name,
        "reply_to": None,
        "footer": None,
        **org.branding,
    }


@dataclass(frozen=True)
class Effective:
    features: dict[str, bool]
    login_enabled: bool

    def allows(self, feature: str) -> bool:
        return self.features[feature]


def effective(*levels: dict[str, Any] | None) -> Effective:
    """Resolve settings given from the least specific level to the most (org, group, client).

    Each level is `{"features": {name: bool|None}, "login_enabled": bool|None}`, partial."""
    features: dict[str, bool] = dict.fromkeys(FEATURES, True)
    login_enabled = True
    for level in levels:
        if not level:
            continue
        for name, value in (level.get("features") or {}).items():
            if value is not None:
                features[name] = value
        if level.get("login_enabled") is not None:
            login_enabled = level["login_enabled"]
    return Effective(features, login_enabled)


def effective_for_client(
    profile: ClientProfile, org: Organization | None, groups: dict[str, Group]
) -> Effective:
    """R35/R37: the client's effective settings; every rule that reads them calls this."""
    group = groups.get(profile.group_id) if profile.group_id else None
    return effective(
        org.portal_settings if org else None,
        group.portal_settings if group else None,
        profile.portal_settings,
    )
