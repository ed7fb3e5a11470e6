"""Organizations: sign-up of a practice, branding and settings, providers and groups."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Hashable
from typing import Any

from chalicelib import clock, db, ids, logs, metrics
from chalicelib.db import Tx
from chalicelib.errors import Conflict, NotFound, field_error
from chalicelib.models.identities import Identity
from chalicelib.models.orgs import (
    Group,
    JoinCode,
    Organization,
    Provider,
    ProviderStatus,
    Role,
    SlugClaim,
    StaffClaim,
)
from chalicelib.rules.actors import Actor, provider_ref
from chalicelib.rules.settings import org_settings
from chalicelib.schemas.practices import (
    CreateGroup,
    CreateOrg,
    PortalSettings,
    UpdateGroup,
    UpdateOrg,
)
from chalicelib.services import access, audit, records, throttle
from chalicelib.services.identity import auth, identities, passwords, sessions
from chalicelib.services.identity.accounts import staff_account


def _slug_taken() -> Conflict:
    return Conflict("That web address (slug) is taken; choose another.", code="slug_taken")


def sign_up(req: CreateOrg, source: str) -> tuple[Organization, str]:
    """A practice signs up with its first admin, who is signed in to it (API.md POST /v1/orgs).

    A taken slug is answered first, before the address is looked at (R51). A new address
    gets a login whose chosen password is unproven: it opens only this practice's accounts
    until the owner proves the mailbox (R50). An address that has a login needs that login's
    password, proven (an unproven one opens only its own practice, R50), and otherwise answers
    exactly as a failed sign-in, throttled with sign-ins (R45, R51); the new practice becomes
    its last organization (R3), since the admin is entered into it.

    The attempt is counted before the address is looked up (R51, R52) and given back in the
    sign-up's transaction; a known address spends one Argon2 verification, a new one the one
    Argon2 hash of its password: the same cost either way (R51).
    """
    admin = req.admin
    if db.get(SlugClaim, SlugClaim.key_for(req.slug), "slug") is not None:
        raise _slug_taken()
    org_id = ids.new_id("org")
    counted = throttle.attempt(admin.email, source, throttle.SIGN_IN)
    known = identities.find_by_email(admin.email)
    if known is not None and not identities.password_matches(known, admin.password, in_org=org_id):
        metrics.count("SignInFailures")
        raise auth.invalid_credentials()
    new_hash = passwords.hash_password(admin.password) if known is None else None

    def attempt(tx: Tx) -> tuple[Organization, str]:
        moment = clock.now()
        org = Organization(
            org_id,
            name=req.name,
            slug=req.slug,
            plan=req.plan,
            created_at=moment,
            updated_at=moment,
        )
        identity, is_new = identities.find_or_add(tx, admin.email, first_org_id=org.org_id)
        if is_new:
            assert new_hash is not None  # the address had no login when it was read
            identities.choose_password(identity, new_hash, org_id=org.org_id)
        elif known is None or identity.id != known.id:
            raise auth.invalid_credentials()  # a login made meanwhile: its password was not given
        else:
            tx.update(identity, [Identity.last_org_id.set(org.org_id)])
        counted.succeeded(tx)
        tx.save(org, condition=Organization.org_id.does_not_exist())
        tx.save(
            SlugClaim(SlugClaim.key_for(req.slug), owner_org_id=org.org_id),
            condition=SlugClaim.key.does_not_exist(),
            on_conflict=_slug_taken,
        )
        # The practice's first admin is active at once: signing up proved nothing more to wait
        # for (R49 invites the staff an admin adds).
        provider = membership(
            tx, org.org_id, identity, admin.first_name, admin.last_name, Role.ADMIN
        )
        token = sessions.start(tx, identity, staff_account(provider))
        logs.event("org.created", org_id=org.org_id, identity_id=identity.id)
        return org, token

    return db.run(attempt, retry_on=identities.EmailClaimedMeanwhile)


def membership(
    tx: Tx,
    org_id: str,
    identity: Identity,
    first_name: str,
    last_name: str,
    role: str,
    *,
    status: ProviderStatus = ProviderStatus.ACTIVE,
) -> Provider:
    """A staff membership of `identity` in the organization, added to `tx`: one each (R12)."""
    provider_id = ids.new_id("pr")
    provider = Provider(
        org_id,
        Provider.sk_for(provider_id),
        provider_id=provider_id,
        identity_id=identity.id,
        email=identity.email,
        first_name=first_name,
        last_name=last_name,
        role=role,
        status=status,
        created_at=clock.now(),
    )
    tx.save(provider, condition=Provider.sk.does_not_exist())
    tx.save(
        StaffClaim(org_id, StaffClaim.sk_for(identity.id), provider_id=provider_id),
        condition=StaffClaim.sk.does_not_exist(),
        on_conflict=lambda: Conflict(
            "This person is already on the practice's staff.", code="already_staff"
        ),
    )
    return provider


def get(actor: Actor, org_id: str) -> Organization:
    access.staff_of(actor, org_id)
    return records.org(org_id)


def update(actor: Actor, org_id: str, req: UpdateOrg) -> Organization:
    """Admins change name, plan, branding and settings; a partial object changes only what
    it names (null clears a branding field back to its default). Audited with the fields it
    named and the plan's change (R47)."""
    admin = access.staff_of(actor, org_id, access.ADMIN)
    org = records.org(org_id)
    was_plan = org.plan
    if req.name is not None:
        org.name = req.name
    if req.plan is not None:
        org.plan = req.plan
    if req.branding is not None:
        org.branding = _merge(org.branding, req.branding.model_dump(exclude_unset=True))
    if req.settings is not None:
        changes = req.settings.model_dump(exclude_unset=True)
        if changes.get("default_provider_id"):
            clinical_provider(
                org_id, changes["default_provider_id"], "settings.default_provider_id"
            )
        if changes.get("welcome_message") is not None:
            # A partial welcome message changes only what it names (R21 reads both fields).
            changes["welcome_message"] = {
                **org_settings(org)["welcome_message"],
                **changes["welcome_message"],
            }
        if req.settings.caregiver_age_tiers is not None:
            # Each tier is whole: an omitted `scopes` means "all" (null), not a missing key (B4).
            changes["caregiver_age_tiers"] = [
                tier.model_dump() for tier in req.settings.caregiver_age_tiers
            ]
        org.settings = _merge(org.settings, changes)
    org.updated_at = clock.now()
    tx = Tx()
    # The whole item goes back, under its version: 409 if anyone wrote it since our read.
    tx.save(org, condition=Organization.org_id.exists())
    details: dict[str, Any] = {"fields": _named_fields(req.model_dump(exclude_unset=True))}
    if org.plan != was_plan:
        details["plan"] = {"from": was_plan, "to": org.plan}
    audit.record(
        tx,
        org_id=org_id,
        action="org.updated",
        actor=provider_ref(admin.provider_id),
        details=details,
    )
    tx.commit()
    return org


def _named_fields(changes: dict[str, Any], prefix: str = "") -> list[str]:
    """The fields a PATCH named, `branding.sender_name`-style: the audit's words for what
    changed, never the values (R48)."""
    named = []
    for name, value in changes.items():
        if isinstance(value, dict) and not prefix:
            named += _named_fields(value, f"{name}.")
        else:
            named.append(f"{prefix}{name}")
    return sorted(named)


def _merge(current: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    merged = {**current, **changes}
    return {key: value for key, value in merged.items() if value is not None}


# Providers -----------------------------------------------------------------------------------


def clinical_provider(org_id: str, provider_id: str, field: str) -> Provider:
    """A provider of this organization who may hold clients (R10), or a 400 on `field`."""
    provider = db.get(Provider, org_id, Provider.sk_for(provider_id))
    if provider is None or provider.status != ProviderStatus.ACTIVE:
        raise field_error(field, "No provider with this id in this practice.")
    if provider.role not in access.CLINICAL:
        raise field_error(
            field, "Members with the staff role cannot hold clients; name a provider."
        )
    return provider


def clinical_providers(org_id: str) -> list[Provider]:
    return [
        p
        for p in providers_of(org_id)
        if p.role in access.CLINICAL and p.status == ProviderStatus.ACTIVE
    ]


def providers_of(org_id: str) -> list[Provider]:
    return db.ahead_or(_providers_name(org_id), lambda: _query_providers(org_id))


def providers_reads(org_id: str) -> dict[Hashable, Callable[[], object]]:
    """The Query of `providers_of`, to issue beside a session's read (issue #17)."""
    return {_providers_name(org_id): lambda: _query_providers(org_id)}


def _providers_name(org_id: str) -> tuple[str, str]:
    return ("providers-of", org_id)


def _query_providers(org_id: str) -> list[Provider]:
    return list(Provider.query(org_id, Provider.sk.startswith("provider#"), consistent_read=True))


# Groups --------------------------------------------------------------------------------------


def group_missing() -> NotFound:
    return NotFound("No such group in this practice.", code="group_not_found")


def group_of(org_id: str, group_id: str) -> Group | None:
    return db.get(Group, org_id, Group.sk_for(group_id))


def _portal(settings_: PortalSettings | None) -> dict[str, Any]:
    return settings_.model_dump(exclude_none=True) if settings_ else {}


def create_group(actor: Actor, org_id: str, req: CreateGroup) -> Group:
    access.staff_of(actor, org_id, access.ADMIN)
    if req.default_provider_id:
        clinical_provider(org_id, req.default_provider_id, "default_provider_id")
    moment = clock.now()
    group_id = ids.new_id("grp")
    group = Group(
        org_id,
        Group.sk_for(group_id),
        group_id=group_id,
        name=req.name,
        intake_forms=list(req.intake_forms),
        portal_settings=_portal(req.portal_settings),
        default_provider_id=req.default_provider_id,
        link_code=_new_code(),
        link_expires_at=req.link_expires_at,
        link_max_signups=req.link_max_signups,
        created_at=moment,
        updated_at=moment,
    )
    tx = Tx()
    tx.save(group, condition=Group.sk.does_not_exist())
    tx.save(
        JoinCode(JoinCode.key_for(group.link_code), owner_org_id=org_id, group_id=group_id),
        condition=JoinCode.key.does_not_exist(),
    )
    tx.commit()
    return group


def _new_code() -> str:
    return secrets.token_urlsafe(12)


def list_groups(actor: Actor, org_id: str) -> list[Group]:
    access.staff_of(actor, org_id)
    return list(Group.query(org_id, Group.sk.startswith("group#"), consistent_read=True))


def update_group(actor: Actor, org_id: str, group_id: str, req: UpdateGroup) -> Group:
    """Admins change a group's name, forms, settings, default provider and link limits; audited
    with the fields named (R47)."""
    admin = access.staff_of(actor, org_id, access.ADMIN)
    group = group_of(org_id, group_id)
    if group is None:
        raise group_missing()
    changes = req.model_dump(exclude_unset=True)
    for required in ("name", "intake_forms"):
        if required in changes and changes[required] is None:
            raise field_error(required, "This field cannot be cleared.")
    if changes.get("default_provider_id"):
        clinical_provider(org_id, changes["default_provider_id"], "default_provider_id")
    # null clears the optional ones: no default provider, no expiry, no sign-up limit (B3).
    for name in (
        "name",
        "intake_forms",
        "default_provider_id",
        "link_expires_at",
        "link_max_signups",
    ):
        if name in changes:
            setattr(group, name, changes[name])
    if "portal_settings" in changes:
        group.portal_settings = _portal(req.portal_settings)
    group.updated_at = clock.now()
    tx = Tx()
    # The whole item goes back, under its version: 409 if a rotation (R16) or a sign-up (B3)
    # wrote it since our read, rather than bringing back its old link code or count.
    tx.save(group, condition=Group.sk.exists())
    audit.record(
        tx,
        org_id=org_id,
        action="group.updated",
        actor=provider_ref(admin.provider_id),
        details={"group_id": group_id, "fields": sorted(changes)},
    )
    tx.commit()
    return group


def rotate_group_link(actor: Actor, org_id: str, group_id: str) -> Group:
    """R16: a new code for the group's invite link; the old one answers as rotated from now."""
    access.staff_of(actor, org_id, access.ADMIN)
    group = group_of(org_id, group_id)
    if group is None:
        raise group_missing()
    old_code, group.link_code = group.link_code, _new_code()
    group.updated_at = clock.now()
    tx = Tx()
    tx.update(
        JoinCode(JoinCode.key_for(old_code)),
        [JoinCode.live.set(False)],
        condition=JoinCode.key.exists(),
    )
    tx.save(
        JoinCode(JoinCode.key_for(group.link_code), owner_org_id=org_id, group_id=group_id),
        condition=JoinCode.key.does_not_exist(),
    )
    tx.save(group, condition=Group.link_code == old_code)
    tx.commit()
    return group
