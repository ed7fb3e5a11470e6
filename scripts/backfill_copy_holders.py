"""Write the copy-holder summary (R29, `ClientProfile.copy_holders`) on the client profiles
stored before it existed.

Such a profile has none (null): the email worker then reads the profile's contacts and links
with two Queries for each email (services/email/copies.py) instead of taking them from the
profile, so it stays correct, only slower. Contacts and links keep the summary of a profile
that has one; this script gives one to the rest: it reads the profiles table page by page (a
Scan: an offline job, never a request path), reads each profile's partition of the links table
(two Queries) and saves the summary under the profile's version, so a change made meanwhile by
a request is not overwritten (that profile is read again).

    .venv/bin/python -m scripts.backfill_copy_holders [--dry-run]

Point it at a stage with the usual environment (`TABLE_PREFIX`, `AWS_REGION`, credentials;
`AWS_ENDPOINT_URL` for the local stack). A contact or link written while the script runs on a
profile it has not reached yet needs nothing: that profile has no summary to keep, and the
script reads its partition after.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator

from chalicelib.models.links import Contact, Link, owner_for
from chalicelib.models.profiles import ClientProfile
from chalicelib.services.families import holders
from scripts import backfills


def profiles_to_fill() -> Iterator[tuple[str, str]]:
    """The keys of the profiles with no summary (the table also holds claims and import keys)."""
    condition = ClientProfile.client_id.startswith("cl_") & (
        ClientProfile.copy_holders.does_not_exist()
    )
    for profile in ClientProfile.scan(condition, attributes_to_get=["org_id", "client_id"]):
        yield profile.org_id, profile.client_id


def fill_one(org_id: str, client_id: str) -> bool:
    """Summarise one profile's copy holders as they are now; False if there was nothing to do."""

    def summarise(profile: ClientProfile) -> bool:
        if profile.copy_holders is not None:
            return False
        owner = owner_for(org_id, client_id)
        contacts = Contact.query(owner, Contact.sk.startswith("contact#"), consistent_read=True)
        links = Link.query(owner, Link.sk.startswith("link#"), consistent_read=True)
        profile.copy_holders = holders.summary_of([*contacts, *links])
        return True

    return backfills.resave(org_id, client_id, summarise)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="count, write nothing")
    args = parser.parse_args(argv)
    filled = seen = 0
    for org_id, client_id in profiles_to_fill():
        seen += 1
        if not args.dry_run and fill_one(org_id, client_id):
            filled += 1
    print(f"{seen} profiles without copy holders, {filled} filled" + (" (dry run)" * args.dry_run))
    return 0


if __name__ == "__main__":
    sys.exit(main())
