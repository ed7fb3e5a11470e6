"""Reading the records most rules start from, or the contract's 404 when they are not there.

A record of another organization answers exactly like one that does not exist (R4): every
lookup is by the organization's own key. The settings levels above a client (organization and
groups) come in one BatchGetItem, whatever their number (DESIGN "Data").
"""

from __future__ import annotations

from chalicelib import db
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
    profile = db.get(ClientProfile, org_id, client_id) if names_a_client(client_id) else None
    if profile is None:
        raise client_missing()
    return profile


def names_a_client(client_id: str) -> bool:
    return names_an_id(client_id, "cl")


def names_an_id(value: str, prefix: str) -> bool:
    """Whether a path's id could be one Portico made (`ids.new_id(prefix)`'s shape, bounded):
    another answers missing unread, and never reaches DynamoDB's key limits."""
    return value.startswith(f"{prefix}_") and len(value) <= MAX_ID_LENGTH


# Longer than any id Portico makes (a prefix and 24 hex digits), far below DynamoDB's key limit.
MAX_ID_LENGTH = 64


def client_keys(org_id: str, client_id: str) -> list[db.Key]:
    """The profile's key, to read ahead with the session (issue #17); none for a path that
    names no client."""
    return [(ClientProfile, org_id, client_id)] if names_a_client(client_id) else []


Levels = dict[str, tuple[Organization | None, dict[str, Group]]]


def levels(org_id: str, group_ids: set[str]) -> tuple[Organization | None, dict[str, Group]]:
    """The organization and the named groups above a client."""
    return levels_of({org_id: group_ids}).get(org_id, (None, {}))


def levels_of(wanted: dict[str, set[str]]) -> Levels:
    """Organizations and their named groups, in one BatchGetItem whatever their number (the
    round trips of a sign-in do not grow with an identity's organizations, DESIGN "Data")."""
    found = db.get_together(
        [key for org_id in sorted(wanted) for key in level_keys(org_id, wanted[org_id])]
    )
    return {org_id: levels_in(found, org_id, group_ids) for org_id, group_ids in wanted.items()}


def level_keys(org_id: str, group_ids: set[str]) -> list[db.Key]:
    """The keys of an organization and its named groups, to read with other records at once."""
    return [(Organization, org_id, "org")] + [
        (Group, org_id, Group.sk_for(group_id)) for group_id in sorted(group_ids)
    ]


def levels_in(
    found: db.Found, org_id: str, group_ids: set[str]
) -> tuple[Organization | None, dict[str, Group]]:
    groups = {g: found.of(Group, org_id, Group.sk_for(g)) for g in group_ids}
    return found.of(Organization, org_id, "org"), {g: v for g, v in groups.items() if v}
