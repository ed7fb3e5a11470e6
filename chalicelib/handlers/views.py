"""Records as the contract shows them (API.md): one function a record kind."""

from __future__ import annotations

from typing import Any

from chalicelib import clock, config
from chalicelib.models.appointments import Appointment
from chalicelib.models.emails import EmailJob
from chalicelib.models.orgs import Group, Organization, Provider
from chalicelib.models.profiles import ClientProfile
from chalicelib.services import orgs
from chalicelib.services.accounts import view as account_view
from chalicelib.services.auth import SignedIn
from chalicelib.services.invites import InviteOutcome


def _time(moment: Any) -> str | None:
    return clock.iso(moment) if moment else None


def org_view(org: Organization) -> dict[str, Any]:
    return {
        "id": org.org_id,
        "name": org.name,
        "slug": org.slug,
        "plan": org.plan,
        "branding": orgs.branding(org),
        "settings": orgs.settings(org),
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
