"""File the client profiles stored before client search existed (R55), or file every profile
again after the search rules changed (rules/people.py: the form, the indexed length).

A deployment that had clients before the search table existed has profiles with no search
entries (`searched_as` null): the search does not find them until each is saved once. The app
files such a profile whenever it is saved through `services/clients/search.save` (any change
to it), and this script files the rest: it reads the profiles table page by page (a Scan: an
offline job, never a request path) and saves each profile that needs it in its own
transaction, under its version, so a change made meanwhile by a request is not overwritten
(that profile is read again and filed as it now is).

    .venv/bin/python -m scripts.backfill_search [--all] [--dry-run]

`--all` files every profile again (its stale entries removed, its new ones written), for a
change of the rules; without it, only the profiles never filed. Point it at a stage with the
usual environment (`TABLE_PREFIX`, `AWS_REGION`, credentials; `AWS_ENDPOINT_URL` for the local
stack).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator

from chalicelib.models.profiles import ClientProfile
from scripts import backfills


def profiles_to_file(every: bool) -> Iterator[tuple[str, str]]:
    """The keys of the profiles to file (the table also holds email claims and import keys)."""
    condition = ClientProfile.client_id.startswith("cl_")
    if not every:
        condition &= ClientProfile.searched_as.does_not_exist()
    for profile in ClientProfile.scan(condition, attributes_to_get=["org_id", "client_id"]):
        yield profile.org_id, profile.client_id


def file_one(org_id: str, client_id: str, *, every: bool = False) -> bool:
    """File one profile as it is now; False if there was nothing to do (gone, or filed by the
    app meanwhile)."""
    return backfills.resave(org_id, client_id, lambda profile: profile.searched_as is None or every)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--all", action="store_true", help="file every profile again")
    parser.add_argument("--dry-run", action="store_true", help="count, write nothing")
    args = parser.parse_args(argv)
    filed = seen = 0
    for org_id, client_id in profiles_to_file(args.all):
        seen += 1
        if not args.dry_run and file_one(org_id, client_id, every=args.all):
            filed += 1
    print(f"{seen} profiles to file, {filed} filed" + (" (dry run)" if args.dry_run else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
