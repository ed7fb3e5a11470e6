"""Records as the contract shows them (API.md): one function a record kind."""

from __future__ import annotations

from typing import Any

from chalicelib import clock, config
from chalicelib.models.appointments import Appointment
from chalicelib.models.audit import AuditEvent
from chalicelib.models.emails import EmailJob
from chalicelib.models.links import Contact, Link
from chalicelib.models.orgs import Group, Organization, Provider
from chalicelib.models.profiles import ClientProfile
from chalicelib.models.records import PortalRecord
from chalicelib.rules.settings import Effective, org_branding, org_settings
from chalicelib.services.clients.imports import RowOutcome, RowStatus
from chalicelib.services.clients.public import Purchase
from chalicelib.services.identity.accounts import view as account_view
from chalicelib.services.identity.auth import SignedIn
from chalicelib.services.invites.invites import InviteOutcome
from chalicelib.services.portal.portal_levels import Levelled


def _time(moment: Any) -> str | None:
    return clock.iso(moment) if moment else None


def org_view(org: Organization) -> dict[str, Any]:
    return {
        "id": org.org_id,
        "name": org.name,
        "slug": org.slug,
        "plan": org.plan,
        "branding": org_branding(org),
        "settings": org_settings(org),
        "created_at": _time(org.created_at),
        "updated_at": _time(org.updated_at),
    }


def provider_view(provider: Provider) -> dict[str, Any]:
    return {
        "id": provider.provider_id,
        "email": provider.email,
        "first_name": provider.first_name,
        "last_name": provider.last_name,
        "role": provider.role,
        "status": provider.status,
        "created_at": _time(provider.created_at),
    }


def group_view(group: Group) -> dict[str, Any]:
    return {
        "id": group.group_id,
        "name": group.name,
        "intake_forms": list(group.intake_forms),
        "portal_settings": group.portal_settings,
        "default_provider_id": group.default_provider_id,
        "invite_url": f"{config.PUBLIC_URL}/join/{group.link_code}",
        "link_expires_at": _time(group.link_expires_at),
        "link_max_signups": group.link_max_signups,
        "signups": group.signups,
        "created_at": _time(group.created_at),
        "updated_at": _time(group.updated_at),
    }


def client_view(profile: ClientProfile, invite: InviteOutcome | None = None) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "id": profile.client_id,
        "first_name": profile.first_name,
        "last_name": profile.last_name,
        "email": profile.email,
        "shared_email": profile.shared_email,
        "phone": profile.phone,
        "dob": profile.dob,
        "client_type": profile.client_type,
        "group_id": profile.group_id,
        "primary_provider_id": profile.primary_provider_id,
        "care_team": list(profile.care_team),
        "status": profile.status,
        "source": profile.source,
        # R11: a client without email has no portal access and gets no emails.
        "portal_access": profile.email is not None,
        "created_at": _time(profile.created_at),
        "updated_at": _time(profile.updated_at),
        "archived_at": _time(profile.archived_at),
        # R26: the profile's links, either side, with whom and how (kept on the profile).
        "links": sorted(
            (profile.link_summary or {}).values(), key=lambda link: str(link["link_id"])
        ),
    }
    if invite is not None:
        shown["invite"] = invite_view(invite)
    return shown


def invite_view(invite: InviteOutcome) -> dict[str, Any]:
    """B1: the client's newest invite, `pending`, `accepted`, `expired`, `superseded`,
    `revoked` or `not_sent` (with its reason, R11)."""
    return {
        "status": invite.status,
        "reason": invite.reason,
        "sent_at": _time(invite.sent_at),
        "expires_at": _time(invite.expires_at),
    }


def signed_in_view(result: SignedIn) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "account": account_view(result.account, result.orgs),
        "accounts": [account_view(a, result.orgs) for a in result.accounts],
    }
    if result.token:
        shown["token"] = result.token
    return shown


def appointment_view(appointment: Appointment) -> dict[str, Any]:
    return {
        "id": appointment.appointment_id,
        "provider_id": appointment.provider_id,
        "client_ids": list(appointment.client_ids),
        "starts_at": _time(appointment.starts_at),
        "minutes": appointment.minutes,
        "type": appointment.type,
        "created_at": _time(appointment.created_at),
    }


def email_view(job: EmailJob, invite_status: str | None = None) -> dict[str, Any]:
    """The email log's line (R43): what, to whom, and how it ended; for an invite email, the
    status of the invite it carries (B1)."""
    return {
        "invite_status": invite_status,
        "id": job.job_id,
        "kind": job.kind,
        "client_id": job.client_id,
        "to": job.to,
        "status": job.status,
        "reason": job.reason,
        "created_at": _time(job.created_at),
        "sent_at": _time(job.sent_at),
    }


def outbox_view(job: EmailJob) -> dict[str, Any]:
    """A sent email as the local outbox shows it (API.md "Local stage only")."""
    return {
        "job_id": job.job_id,
        "kind": job.kind,
        "org_id": job.branded_org_id or job.org_id,
        "to": job.to,
        "subject": job.subject,
        "html": job.html,
        "text": job.text,
        "sent_at": _time(job.sent_at),
    }


def contact_view(contact: Contact) -> dict[str, Any]:
    return {
        "id": contact.contact_id,
        "client_id": contact.client_id,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "email": contact.email,
        "phone": contact.phone,
        "relationship": contact.relationship,
        "emergency_contact": contact.emergency_contact,
        "notify": contact.notify,
        "created_at": _time(contact.created_at),
        "updated_at": _time(contact.updated_at),
    }


def link_view(link: Link, side: str = "origin") -> dict[str, Any]:
    """R25-R27: the link from one side; `origin_client_id` is where it is edited."""
    grant = link.portal_access
    return {
        "id": link.link_id,
        "side": side,
        "origin_client_id": link.client_id,
        "linked_client_id": link.linked_client_id,
        "relationship": link.relationship,
        "client_type": link.client_type,
        "emergency_contact": link.emergency_contact,
        "notify": link.notify,
        "portal_access": (
            {
                "status": grant["status"],
                "scopes": grant.get("scopes"),
                "ends_on": grant.get("ends_on"),
                "acknowledged": True,
                "acknowledged_by": grant["acknowledged_by"],
                "acknowledged_at": grant["acknowledged_at"],
                "accepted_at": grant.get("accepted_at"),
            }
            if grant
            else None
        ),
        "created_at": _time(link.created_at),
        "updated_at": _time(link.updated_at),
    }


def audit_view(event: AuditEvent) -> dict[str, Any]:
    """R47, B6: who did what to which record, when, on whose behalf (ids and flags only)."""
    return {
        "id": event.event_id,
        "action": event.action,
        "actor": event.actor,
        "on_behalf_of": event.on_behalf_of,
        "subject": event.client_id or "org",
        "details": event.details,
        "at": _time(event.at),
    }


def levelled_view(levelled: Levelled) -> dict[str, Any]:
    """R35: a level's own values (null: not set) and the effective ones."""
    return {"own": levelled.own, "effective": effective_view(levelled.effective)}


def effective_view(effective: Effective) -> dict[str, Any]:
    return {"features": dict(effective.features), "login_enabled": effective.login_enabled}


def record_view(record: PortalRecord) -> dict[str, Any]:
    """A journal entry or chat message of one profile (R6)."""
    return {
        "id": record.record_id,
        "client_id": record.client_id,
        "author": record.author,
        "on_behalf_of": record.on_behalf_of,
        "text": record.text,
        "created_at": _time(record.created_at),
    }


def portal_profile_view(profile: ClientProfile) -> dict[str, Any]:
    """The portal's own profile: what the client sees of themselves (no staff-only fields)."""
    return {
        "id": profile.client_id,
        "first_name": profile.first_name,
        "last_name": profile.last_name,
        "email": profile.email,
        "phone": profile.phone,
        "dob": profile.dob,
        "client_type": profile.client_type,
    }


def import_view(outcomes: list[RowOutcome]) -> dict[str, Any]:
    """R18: each line's outcome, and the counts."""
    rows = []
    for outcome in outcomes:
        row: dict[str, Any] = {"line": outcome.line, "status": outcome.status}
        if outcome.reason:
            row["reason"] = outcome.reason
        if outcome.client_id:
            row["client_id"] = outcome.client_id
        rows.append(row)
    counts: dict[str, int] = dict.fromkeys(RowStatus, 0)  # created, skipped, rejected
    for outcome in outcomes:
        counts[outcome.status] += 1
    return {"rows": rows, **counts}


def booking_view(appointment: Appointment) -> dict[str, Any]:
    """R17, R4: what the anonymous booker learns, alike whether their email was known."""
    return {
        "id": appointment.appointment_id,
        "provider_id": appointment.provider_id,
        "starts_at": _time(appointment.starts_at),
        "minutes": appointment.minutes,
        "type": appointment.type,
    }


def purchase_view(bought: Purchase) -> dict[str, Any]:
    return {
        "id": bought.purchase_id,
        "package": bought.package,
        "created_at": _time(bought.created_at),
    }
