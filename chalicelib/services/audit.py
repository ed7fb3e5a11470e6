"""Audit events (R47, B6): every sensitive action, its actor and on whose behalf.

Services add the event to the change's own transaction, so an action and its audit record
exist together or not at all. Details carry ids and flags only (R48).
"""

from __future__ import annotations

from typing import Any

from chalicelib import clock, ids
from chalicelib.db import Tx
from chalicelib.models.audit import AuditEvent


def record(
    tx: Tx,
    *,
    org_id: str,
    action: str,
    actor: str,
    client_id: str | None = None,
    on_behalf_of: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    moment = clock.now()
    event_id = ids.new_id("ev")
    subject = AuditEvent.subject_for(org_id, client_id)
    event = AuditEvent(
        subject,
        f"{clock.iso(moment)}#{event_id}",
        event_id=event_id,
        org_id=org_id,
        client_id=client_id,
        action=action,
        actor=actor,
        on_behalf_of=on_behalf_of,
        behalf_subject=subject if on_behalf_of else None,
        details=details or {},
        at=moment,
    )
    tx.save(event, condition=AuditEvent.sk.does_not_exist())
    return event
