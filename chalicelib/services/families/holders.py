"""The copy holders of a client (R29), summarised on its profile as its links are (R26).

`ClientProfile.copy_holders` names, by holder ("contact:ct_…", "link:lk_…"), every contact with
`notify` and an email, and every link made on the profile with `notify`: a contact's address
and first name, a linked client's id. It is written with the contact or link, in the change's
own transaction (the profile's versioned save), so the email worker reads the client's copy
holders with the client, in the BatchGetItem it makes anyway, instead of Querying the links
table for each email (issue #17).

A profile stored before the summary existed has none (null): the worker then reads the
partition as before, and `scripts/backfill_copy_holders.py` writes it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from chalicelib.db import Tx
from chalicelib.models.links import Contact, Link
from chalicelib.models.profiles import ClientProfile
from chalicelib.services.clients import search


def ref_of(holder: Contact | Link) -> str:
    """How a copy, and the summary, name the holder (EmailJob.copy_holder)."""
    if isinstance(holder, Contact):
        return f"contact:{holder.contact_id}"
    return f"link:{holder.link_id}"


def entry_of(holder: Contact | Link) -> dict[str, Any] | None:
    """What the summary keeps of a holder, or None if it is no copy holder (R29)."""
    if isinstance(holder, Contact):
        if not holder.notify or not holder.email:
            return None
        return {"email": holder.email, "first_name": holder.first_name}
    return {"client_id": holder.linked_client_id} if holder.notify else None


def summary_of(holders: Iterable[Contact | Link]) -> dict[str, dict[str, Any]]:
    """The whole summary of a profile's contacts and links (a new profile's, the backfill's)."""
    return {ref_of(h): entry for h in holders if (entry := entry_of(h)) is not None}


def note(profile: ClientProfile, holder: Contact | Link, *, gone: bool = False) -> bool:
    """Bring the profile's summary up to date with this contact or link of it, as it is now
    (`gone`: removed), in memory; whether it changed. The caller saves the profile in the
    holder's transaction. A profile with no summary yet keeps none (the worker reads the
    partition): one entry alone would hide the holders it does not name."""
    if profile.copy_holders is None:
        return False
    summary = dict(profile.copy_holders)
    ref = ref_of(holder)
    entry = None if gone else entry_of(holder)
    if summary.get(ref) == entry:
        return False
    if entry is None:
        summary.pop(ref, None)
    else:
        summary[ref] = entry
    profile.copy_holders = summary
    return True


def keep(tx: Tx, profile: ClientProfile, holder: Contact | Link, *, gone: bool = False) -> None:
    """`note`, and the profile saved in `tx` when its summary changed (a contact's change;
    a link's saves its profiles with its link summary, links._save_summaries). A profile with
    no summary is saved too: its version moves, so a backfill that read the partition before
    this change fails its versioned save and reads again (scripts/backfill_copy_holders.py)."""
    if note(profile, holder, gone=gone) or profile.copy_holders is None:
        search.save(tx, profile)
