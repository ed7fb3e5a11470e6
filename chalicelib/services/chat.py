"""A client's chat (R6, R21): messages of one profile, the welcome message among them."""

from __future__ import annotations

from chalicelib import clock, ids
from chalicelib.db import Tx
from chalicelib.models.orgs import Organization
from chalicelib.models.profiles import ClientProfile
from chalicelib.models.records import PortalRecord
from chalicelib.rules.actors import provider_ref
from chalicelib.rules.settings import org_settings


def post(tx: Tx, profile: ClientProfile, *, author: str, text: str) -> PortalRecord:
    moment = clock.now()
    record_id = ids.new_id("msg")
    message = PortalRecord(
        PortalRecord.owner_for(profile.org_id, profile.client_id),
        PortalRecord.sk_for("chat", clock.iso(moment), record_id),
        record_id=record_id,
        kind="chat",
        org_id=profile.org_id,
        client_id=profile.client_id,
        author=author,
        text=text,
        created_at=moment,
    )
    tx.save(message, condition=PortalRecord.sk.does_not_exist())
    return message


def welcome(tx: Tx, org: Organization, profile: ClientProfile) -> PortalRecord | None:
    """R21: on a client's first activation, the organization's welcome text, posted from the
    primary provider. The caller calls this once: in the transaction that first activates."""
    message = org_settings(org)["welcome_message"]
    if not message.get("enabled") or not message.get("text"):
        return None
    return post(tx, profile, author=provider_ref(profile.primary_provider_id), text=message["text"])


def messages(profile: ClientProfile, limit: int = 100) -> list[PortalRecord]:
    owner = PortalRecord.owner_for(profile.org_id, profile.client_id)
    return list(PortalRecord.query(owner, PortalRecord.sk.startswith("chat#"), limit=limit))
