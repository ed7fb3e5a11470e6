"""Audit events (R47, B6): every sensitive action, its actor and on whose behalf.

Services add the event to the change's own transaction, so an action and its audit record
exist together or not at all. Details carry ids and flags only (R48).
"""

from __future__ import annotations

from typing import Any

from chalicelib import clock, ids, paging
from chalicelib.db import Tx
from chalicelib.models.audit import AuditEvent
from chalicelib.schemas import AuditQuery
from chalicelib.services import access
from chalicelib.services.identity.sessions import Actor

SYSTEM = "system"


def actor_ref(actor: Actor | None) -> str:
    """Who acts, as the audit log names them: a provider, a client, or the identity alone."""
    if actor is None:
        return SYSTEM
    account = actor.account
    if account is None:
        return f"identity:{actor.identity.id}"
    if account.kind == "staff":
        return f"provider:{account.provider_id}"
    return f"client:{account.client_id}"


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


def events(actor: Actor, org_id: str, q: AuditQuery) -> tuple[list[AuditEvent], str | None]:
    """R47: the organization's audit log for its staff, newest first; one client's with
    `client_id`. One Query on the table or its index."""
    access.may(actor, org_id)
    if q.client_id:
        subject = AuditEvent.subject_for(org_id, q.client_id)
        start = paging.decode(q.cursor, {"subject", "sk"}, {"subject": subject})
        return paging.page(
            lambda key: AuditEvent.query(
                subject, scan_index_forward=False, limit=q.limit, last_evaluated_key=key
            ),
            start,
        )
    start = paging.decode(q.cursor, {"subject", "sk", "org_id"}, {"org_id": org_id})
    return paging.page(
        lambda key: AuditEvent.by_org.query(
            org_id, scan_index_forward=False, limit=q.limit, last_evaluated_key=key
        ),
        start,
    )
