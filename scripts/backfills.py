"""What the profile backfills share (scripts/backfill_search.py, scripts/backfill_copy_holders.py):
a profile read afresh, changed and saved with its search entries under its version, so a change
made meanwhile by a request is not overwritten (the profile is read again and changed as it now
is)."""

from __future__ import annotations

from collections.abc import Callable

from chalicelib import db
from chalicelib.db import Tx
from chalicelib.errors import Conflict
from chalicelib.models.profiles import ClientProfile
from chalicelib.services.clients import search

ATTEMPTS = 3


def resave(org_id: str, client_id: str, change: Callable[[ClientProfile], bool]) -> bool:
    """Read the profile, let `change` fill it in (False: nothing to do) and save it; False when
    the profile is gone or needed nothing."""
    for _ in range(ATTEMPTS):
        profile = db.get(ClientProfile, org_id, client_id)
        if profile is None or not change(profile):
            return False
        tx = Tx()
        search.save(tx, profile)
        try:
            tx.commit()
        except Conflict:  # changed meanwhile (its version moved): read it again
            continue
        return True
    raise SystemExit(f"{org_id}/{client_id} kept changing; run the backfill again")
