"""Queueing one notification of the catalogue for a client (R54): the one seam every caller
uses, the notifications API and a purchase's receipt (R17) alike. The worker decides who
receives it or why nobody does (R36–R38, R43) and adds the copies (R29)."""

from __future__ import annotations

from chalicelib import config
from chalicelib.db import Tx
from chalicelib.models.emails import EmailJob
from chalicelib.models.profiles import ClientProfile
from chalicelib.rules.notifications import Data, context
from chalicelib.services import outbox


def queue(tx: Tx, profile: ClientProfile, kind: str, data: Data) -> EmailJob:
    return outbox.queue(
        tx,
        org_id=profile.org_id,
        kind=kind,
        client_id=profile.client_id,
        # The address as it is now: the worker reads its suppression (R54) with the client in
        # one BatchGetItem, and again by itself only if the address changed meanwhile.
        to=profile.email,
        context=context({"first_name": profile.first_name}, data, config.PORTAL_URL),
    )
