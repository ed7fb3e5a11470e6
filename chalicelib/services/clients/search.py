"""Finding a client (R55): by the start of a first name, last name or email, case and accents
aside, in name order, in the same few round trips among ten clients or tens of thousands.

Each profile is filed in the search table under every start of its terms (rules/people.py), in
its status's partitions. `save` is the one way a profile is written, so its entries change in
the transaction of every change to its names, email or status, whichever way it comes (staff
add, import, group link, booking, purchase, a link's new client, an edit, an email change,
archive and unarchive): the profile model refuses a save whose entries were not kept in step.
`find` is one Query a status (one for active or archived, two for all) and one BatchGetItem.
"""

from __future__ import annotations

from typing import Any

from pynamodb.expressions.condition import Condition

from chalicelib import paging
from chalicelib.db import ErrorFactory, Tx
from chalicelib.models.profiles import ClientProfile, ProfileStatus
from chalicelib.models.search import ClientSearchEntry
from chalicelib.rules.people import (
    SEARCH_PREFIX_MAX,
    client_of,
    found_by,
    name_key,
    search_form,
    search_prefixes,
    search_terms,
)

_KEY_NAMES = frozenset({"partition", "name_key"})
# What a profile's entries were when it was read, kept across the retries of one change (a
# retried attempt sets `searched_as` again from the same profile object).
_STORED = "_search_entries_stored"


def save(
    tx: Tx,
    profile: ClientProfile,
    condition: Condition | None = None,
    on_conflict: ErrorFactory | None = None,
) -> None:
    """Save the profile and, in the same transaction, its search entries as it now reads: the
    entries of what it no longer is removed, those of what it now is written (R55)."""
    stored: dict[str, Any] | None = getattr(profile, _STORED, profile.searched_as)
    setattr(profile, _STORED, stored)
    wanted = _index_of(profile)
    for partition, key in sorted(_keys(stored) - _keys(wanted)):
        tx.delete(ClientSearchEntry(partition, key))
    for partition, key in sorted(_keys(wanted) - _keys(stored)):
        tx.save(ClientSearchEntry(partition, key))
    profile.searched_as = wanted
    tx.save(profile, condition=condition, on_conflict=on_conflict)
    tx.after_commit(
        f"search#{profile.org_id}#{profile.client_id}",
        lambda _: setattr(profile, _STORED, wanted),
        None,
    )


def entries(profile: ClientProfile) -> list[ClientSearchEntry]:
    """The entries a profile is found by, its `searched_as` set to them: for writers that fill
    the tables straight (the bench's seeding)."""
    profile.searched_as = _index_of(profile)
    return [ClientSearchEntry(*key) for key in sorted(_keys(profile.searched_as))]


def _index_of(profile: ClientProfile) -> dict[str, Any]:
    terms = search_terms(profile.first_name, profile.last_name, profile.email)
    return {
        "source": profile.search_source(),
        "name_key": name_key(profile.first_name, profile.last_name, profile.client_id),
        "partitions": sorted(
            ClientSearchEntry.partition_for(profile.org_id, profile.status, start)
            for start in search_prefixes(terms)
        ),
    }


def _keys(index: dict[str, Any] | None) -> set[tuple[str, str]]:
    """The entries an index names: every partition, under the one name key."""
    if not index:
        return set()
    return {(partition, index["name_key"]) for partition in index["partitions"]}


def find(
    org_id: str, query: str, status: str, limit: int, cursor: str | None
) -> tuple[list[ClientProfile], str | None]:
    """R55: the clients of `status` (`active`, `archived` or `all`) with a first name, last name
    or email that `query` starts, in name order, one page: a Query a status on the partition of
    the query's start, then one BatchGetItem of the profiles found. A query longer than the
    indexed starts keeps, of the page's clients, those whose whole term it starts."""
    form = search_form(query)
    start = form[:SEARCH_PREFIX_MAX]
    statuses = list(ProfileStatus) if status == "all" else [ProfileStatus(status)]

    def source(of: str) -> paging.Source[ClientSearchEntry]:
        partition = ClientSearchEntry.partition_for(org_id, of, start)
        return paging.Source(
            name=of,
            read=lambda key, size: ClientSearchEntry.query(
                partition, consistent_read=True, limit=size, last_evaluated_key=key
            ),
            key_names=_KEY_NAMES,
            partition={"partition": partition},
        )

    found, next_cursor = paging.merged(
        [source(of) for of in statuses], cursor, limit, order=lambda entry: entry.name_key
    )
    if not found:
        return [], next_cursor
    client_ids = [client_of(entry.name_key) for entry in found]
    profiles = {
        p.client_id: p
        for p in ClientProfile.batch_get(
            [(org_id, client_id) for client_id in client_ids], consistent_read=True
        )
    }
    shown = [profiles[client_id] for client_id in client_ids if client_id in profiles]
    # As read now: the whole term decides (a long query), and a change since the Query shows.
    return [p for p in shown if p.status in statuses and _found(p, form)], next_cursor


def _found(profile: ClientProfile, form: str) -> bool:
    return found_by(form, search_terms(profile.first_name, profile.last_name, profile.email))
