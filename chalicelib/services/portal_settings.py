"""Client Portal settings (R35, R37): organization default, group, client; the most specific
value that is set wins, and with none set a feature is on and the login is open."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib import aws
from chalicelib.models.orgs import Group, Organization
from chalicelib.models.profiles import ClientProfile
from chalicelib.schemas import FEATURES


@dataclass(frozen=True)
class Effective:
    features: dict[str, bool]
    login_enabled: bool

    def allows(self, feature: str) -> bool:
        return self.features[feature]


def effective(*levels: dict[str, Any] | None) -> Effective:
    """Resolve settings given from the least specific level to the most (org, group, client).

    Each level is `{"features": {name: bool|None}, "login_enabled": bool|None}`, partial."""
    features = dict.fromkeys(FEATURES, True)
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


Levels = dict[str, tuple[Organization | None, dict[str, Group]]]


def levels(org_id: str, group_ids: set[str]) -> tuple[Organization | None, dict[str, Group]]:
    """The organization and the named groups above a client."""
    return levels_of({org_id: group_ids}).get(org_id, (None, {}))


def levels_of(wanted: dict[str, set[str]]) -> Levels:
    """Organizations and their named groups, in one BatchGetItem whatever their number (the
    round trips of a sign-in do not grow with an identity's organizations, DESIGN "Data")."""
    keys = [(org_id, "org") for org_id in sorted(wanted)] + [
        (org_id, Group.sk_for(group_id))
        for org_id in sorted(wanted)
        for group_id in sorted(wanted[org_id])
    ]
    found: Levels = {org_id: (None, {}) for org_id in wanted}
    table = Organization.Meta.table_name
    for start in range(0, len(keys), 100):  # BatchGetItem's limit
        request = {
            table: {
                "Keys": [
                    {"org_id": {"S": o}, "sk": {"S": sk}} for o, sk in keys[start : start + 100]
                ],
                "ConsistentRead": True,
            }
        }
        while request:
            answer = aws.client("dynamodb").batch_get_item(RequestItems=request)
            for item in answer["Responses"].get(table, []):
                org_id = item["org_id"]["S"]
                groups = found[org_id][1]
                if item["sk"]["S"] == "org":
                    found[org_id] = (Organization.from_raw_data(item), groups)
                else:
                    group = Group.from_raw_data(item)
                    groups[group.group_id] = group
            request = answer.get("UnprocessedKeys") or {}
    return found


def of_profile(
    profile: ClientProfile, org: Organization | None, groups: dict[str, Group]
) -> Effective:
    """R35/R37: the client's effective settings; every rule that reads them calls this."""
    group = groups.get(profile.group_id) if profile.group_id else None
    return effective(
        org.portal_settings if org else None,
        group.portal_settings if group else None,
        profile.portal_settings,
    )
