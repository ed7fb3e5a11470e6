"""A practice as staff see it: the organization, its providers, its groups and its audit log."""

from __future__ import annotations

from typing import Any

from chalicelib import config
from chalicelib.handlers.views.common import iso_or_none
from chalicelib.models.audit import AuditEvent
from chalicelib.models.orgs import Group, Organization, Provider
from chalicelib.rules.settings import org_branding, org_settings
from chalicelib.services.practices.staff import StaffInvite


def org_view(org: Organization) -> dict[str, Any]:
    return {
        "id": org.org_id,
        "name": org.name,
        "slug": org.slug,
        "plan": org.plan,
        "branding": org_branding(org),
        "settings": org_settings(org),
        "created_at": iso_or_none(org.created_at),
        "updated_at": iso_or_none(org.updated_at),
    }


def provider_view(provider: Provider) -> dict[str, Any]:
    return {
        "id": provider.provider_id,
        "email": provider.email,
        "first_name": provider.first_name,
        "last_name": provider.last_name,
        "role": provider.role,
        "status": provider.status,
        "created_at": iso_or_none(provider.created_at),
        "accepted_at": iso_or_none(provider.accepted_at),
        "deactivated_at": iso_or_none(provider.deactivated_at),
    }


def group_view(group: Group) -> dict[str, Any]:
    return {
        "id": group.group_id,
        "name": group.name,
        "intake_forms": list(group.intake_forms),
        "portal_settings": group.portal_settings,
        "default_provider_id": group.default_provider_id,
        "invite_url": f"{config.PUBLIC_URL}/join/{group.link_code}",
        "link_expires_at": iso_or_none(group.link_expires_at),
        "link_max_signups": group.link_max_signups,
        "signups": group.signups,
        "created_at": iso_or_none(group.created_at),
        "updated_at": iso_or_none(group.updated_at),
    }


def staff_invite_view(invite: StaffInvite) -> dict[str, Any]:
    """R49, B1: a provider's newest staff invite."""
    return {"status": invite.status, "expires_at": invite.expires_at}


def audit_view(event: AuditEvent) -> dict[str, Any]:
    """R47, B6: who did what to which record, when, on whose behalf (ids and flags only)."""
    return {
        "id": event.event_id,
        "action": event.action,
        "actor": event.actor,
        "on_behalf_of": event.on_behalf_of,
        "subject": event.client_id or "org",
        "details": event.details,
        "at": iso_or_none(event.at),
    }
