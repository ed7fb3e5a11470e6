"""Staff set Client Portal settings at the organization and client levels (R35, R37); the
group level is the group's own `portal_settings` (orgs.update_group). Each answer gives the
level's own values and the effective ones, as `rules.settings.effective` resolves them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib import clock, logs
from chalicelib.db import Tx
from chalicelib.models.orgs import Organization
from chalicelib.models.profiles import ClientProfile
from chalicelib.rules.actors import Actor
from chalicelib.rules.settings import FEATURES, Effective, effective, effective_for_client
from chalicelib.schemas.practices import PortalSettings
from chalicelib.services import access, audit, records
from chalicelib.services.clients import search


@dataclass(frozen=True)
class Levelled:
    own: dict[str, Any]
    effective: Effective


def own_view(level: dict[str, Any] | None) -> dict[str, Any]:
    """A level as the contract shows it: every feature and the login, null where not set."""
    level = level or {}
    features = level.get("features") or {}
    return {
        "features": {name: features.get(name) for name in FEATURES},
        "login_enabled": level.get("login_enabled"),
    }


def _stored(req: PortalSettings) -> dict[str, Any]:
    """PUT replaces the level: what the body sets, nothing else (null: not set)."""
    return req.model_dump(exclude_none=True)


def org_settings(actor: Actor, org_id: str) -> Levelled:
    access.may(actor, org_id)
    org = records.org(org_id)
    return Levelled(own_view(org.portal_settings), effective(org.portal_settings))


def put_org_settings(actor: Actor, org_id: str, req: PortalSettings) -> Levelled:
    """R35: the organization's default. A login shut here shuts every client without a more
    specific value, and their sessions end at once (R37)."""
    permit = access.may(actor, org_id, roles=access.ADMIN)
    org = records.org(org_id)
    org.portal_settings = _stored(req)
    org.updated_at = clock.now()
    tx = Tx()
    tx.save(org, condition=Organization.org_id.exists())
    audit.record(
        tx,
        org_id=org_id,
        action="portal_settings.changed",
        actor=permit.actor,
        details={"level": "org"},
    )
    tx.commit()
    return Levelled(own_view(org.portal_settings), effective(org.portal_settings))


def client_settings(actor: Actor, org_id: str, client_id: str) -> Levelled:
    access.may(actor, org_id, client_id)
    profile = records.client(org_id, client_id)
    return _levelled(profile)


def put_client_settings(actor: Actor, org_id: str, client_id: str, req: PortalSettings) -> Levelled:
    """R35, R37: the client's own level; `login_enabled: false` takes the account out of the
    client's list and ends its sessions at once (they re-read the effective value)."""
    permit = access.may(actor, org_id, client_id)
    profile = records.client(org_id, client_id)
    profile.portal_settings = _stored(req)
    profile.updated_at = clock.now()
    tx = Tx()
    search.save(tx, profile, condition=ClientProfile.client_id.exists())
    audit.record(
        tx,
        org_id=org_id,
        action="portal_settings.changed",
        actor=permit.actor,
        client_id=client_id,
        details={"level": "client", "login_enabled": req.login_enabled},
    )
    tx.commit()
    logs.event("client.portal_settings", org_id=org_id, client_id=client_id)
    return _levelled(profile)


def _levelled(profile: ClientProfile) -> Levelled:
    org, groups = records.levels(profile.org_id, {profile.group_id} if profile.group_id else set())
    return Levelled(own_view(profile.portal_settings), effective_for_client(profile, org, groups))
