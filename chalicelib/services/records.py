"""Reading the records most rules start from, or the contract's 404 when they are not there.

A record of another organization answers exactly like one that does not exist (R4): every
lookup is by the organization's own key. The settings levels above a client (organization and
groups) come in one BatchGetItem, whatever their number (DESIGN "Data").
"""

from __future__ import annotations

from chalicelib import aws, db
from chalicelib.errors import Conflict, NotFound
from chalicelib.models.orgs import Group, Organization
from chalicelib.models.profiles import ClientProfile


def org_missing() -> NotFound:
    return NotFound("No such organization.", code="org_not_found")


def client_missing() -> NotFound:
    return NotFound("No such client in this practice.", code="client_not_found")


def client_archived() -> Conflict:
    """R38: an archived client is changed, invited or linked only once unarchived."""
    return Conflict("This client is archived; unarchive them first.", code="client_archived")


def org(org_id: str) -> Organization:
    found = db.get(Organization, org_id, "org")
    if found is None:
        raise org_missing()
    return found


def client(org_id: str, client_id: str) -> ClientProfile:
    profile = db.get(ClientProfile, org_id, client_id) if client_id.startswith("cl_") else None
    if profile is None:
        raise client_missing()
    return profile


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
