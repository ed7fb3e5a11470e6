"""Bookings and purchases through a practice's public page (R17).

An email the practice does not know becomes a client on the spot (source `booking` or
`package`) through the one way a client arrives (`arrivals.admit`), and the primary provider is
told by email; a known client is reused. The caller is anonymous, so each route is throttled per
source address and per email, and the answer is the same whether the email was known or not,
here or at any other practice (R4), or a staff address of the practice (R51).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from chalicelib import clock, db, ids, logs
from chalicelib.db import Tx
from chalicelib.errors import Conflict, NotFound
from chalicelib.models.appointments import Appointment
from chalicelib.models.orgs import Organization, Provider, SlugClaim
from chalicelib.models.profiles import ClientProfile, OrgEmailClaim
from chalicelib.rules.notifications import PaymentReceipt
from chalicelib.schemas.public import PublicBooking, PublicPurchase
from chalicelib.services import appointments, audit, notifications, outbox, records, throttle
from chalicelib.services.clients import arrivals
from chalicelib.services.clients.arrivals import Arrival
from chalicelib.services.identity import identities
from chalicelib.services.practices import orgs

# A public booking says when, not how long nor what: the practice's standard visit.
BOOKING_MINUTES = 50
BOOKING_TYPE = "Appointment booked online"
_HOW = {"booking": "by booking an appointment online", "package": "by buying a package online"}


@dataclass(frozen=True)
class Purchase:
    purchase_id: str
    package: str
    created_at: Any


def practice_missing() -> NotFound:
    return NotFound("No practice has this address.", code="org_not_found")


def practice(slug: str) -> Organization:
    claim = db.get(SlugClaim, SlugClaim.key_for(slug), "slug") if len(slug) <= 40 else None
    if claim is None:
        raise practice_missing()
    return records.org(claim.owner_org_id)


def book(slug: str, req: PublicBooking, source: str) -> Appointment:
    """R17: book with the practice; an unknown email is added as a client (source booking)."""
    org = practice(slug)
    throttle.attempt(req.email, source, throttle.BOOKING)
    providers = orgs.providers_of(org.org_id)
    named = (
        orgs.clinical_provider(org.org_id, req.provider_id, "provider_id")
        if req.provider_id
        else None
    )

    def for_client(tx: Tx, profile: ClientProfile) -> Appointment:
        provider = named or _provider(providers, profile.primary_provider_id)
        return appointments.book(
            tx,
            org,
            provider,
            [profile],
            starts_at=req.starts_at,
            minutes=BOOKING_MINUTES,
            type_=BOOKING_TYPE,
        )

    def for_staff(tx: Tx, primary: Provider) -> Appointment:
        """Nothing is booked for a staff address; the answer is shaped as if it were (R51)."""
        provider = named or primary
        appointment_id = ids.new_id("ap")
        audit.record(
            tx,
            org_id=org.org_id,
            action="booking.refused",
            actor=arrivals.SELF,
            details={
                "reason": "email_is_staff",
                "booking_id": appointment_id,
                "provider_id": provider.provider_id,
            },
        )
        return Appointment(
            org.org_id,
            Appointment.sk_for(appointment_id),
            appointment_id=appointment_id,
            provider_id=provider.provider_id,
            client_ids=[],
            starts_at=req.starts_at,
            minutes=BOOKING_MINUTES,
            type=BOOKING_TYPE,
            created_at=clock.now(),
        )

    def context(appointment: Appointment) -> dict[str, Any]:
        return {
            "appointment": {
                "type": appointment.type,
                "starts_at": clock.iso(appointment.starts_at),
                "minutes": appointment.minutes,
            },
            "package": None,
        }

    appointment = _for_email(org, req, "booking", named, providers, for_client, for_staff, context)
    logs.event("booking.created", org_id=org.org_id, appointment_id=appointment.appointment_id)
    return appointment


def purchase(slug: str, req: PublicPurchase, source: str) -> Purchase:
    """R17: buy a package; an unknown email is added as a client (source package). The
    purchase is recorded as the client's audit event (no billing ledger exists yet), and the
    buyer is sent a receipt (R54), known client or new alike (R51)."""
    org = practice(slug)
    throttle.attempt(req.email, source, throttle.PURCHASE)
    providers = orgs.providers_of(org.org_id)

    def for_client(tx: Tx, profile: ClientProfile) -> Purchase:
        event = audit.record(
            tx,
            org_id=org.org_id,
            action="package.purchased",
            actor=arrivals.SELF,
            client_id=profile.client_id,
            details={"package": req.package},
        )
        # R54: the buyer's receipt (feature bills), through the notifications' catalogue.
        receipt = PaymentReceipt(
            description=f"Package: {req.package}",
            paid_on=event.at.date(),
            receipt_number=event.event_id,
        )
        notifications.queue(tx, profile, "payment_receipt", receipt)
        return Purchase(event.event_id, req.package, event.at)

    def for_staff(tx: Tx, _: Provider) -> Purchase:
        """Nothing is bought for a staff address; the answer is shaped as if it were (R51)."""
        event = audit.record(
            tx,
            org_id=org.org_id,
            action="package.purchase_refused",
            actor=arrivals.SELF,
            details={"reason": "email_is_staff", "package": req.package},
        )
        return Purchase(event.event_id, req.package, event.at)

    def context(_: Purchase) -> dict[str, Any]:
        return {"appointment": None, "package": req.package}

    bought = _for_email(org, req, "package", None, providers, for_client, for_staff, context)
    logs.event("package.purchased", org_id=org.org_id, purchase_id=bought.purchase_id)
    return bought


R = TypeVar("R")


def _for_email(
    org: Organization,
    req: PublicBooking | PublicPurchase,
    source: str,
    named: Provider | None,
    providers: list[Provider],
    for_client: Callable[[Tx, ClientProfile], R],
    for_staff: Callable[[Tx, Provider], R],
    context: Callable[[R], dict[str, Any]],
) -> R:
    """The known client of this email (R12's claim), or a new one (R17); then `for_client`
    in the same transaction. A client added meanwhile by another request is reused. A staff
    address of the practice gets `for_staff` instead (`_staff_address`)."""
    for _ in range(2):
        known = _known_client(org.org_id, req.email)
        if known is not None:
            tx = Tx()
            result = for_client(tx, known)
            tx.commit()
            return result
        primary = (
            named
            or arrivals.primary_for_arrival(org, None, providers)
            or arrivals.founding_admin(providers)
        )

        def also(tx: Tx, profile: ClientProfile, _: object, primary: Provider = primary) -> R:
            result = for_client(tx, profile)
            outbox.queue(
                tx,
                org_id=org.org_id,
                kind="new_client_notification",
                identity_id=primary.identity_id,
                to=primary.email,
                context={
                    "provider": {"first_name": primary.first_name},
                    "client": {"first_name": profile.first_name, "last_name": profile.last_name},
                    "how": _HOW[source],
                    **context(result),
                },
            )
            return result

        arrival = Arrival(
            first_name=req.first_name,
            last_name=req.last_name,
            source=source,
            primary_provider_id=primary.provider_id,
            email=req.email,
        )
        try:
            return arrivals.admit(org, arrival, actor=arrivals.SELF, also=also).extra
        except Conflict as conflict:
            if conflict.code == "email_is_staff":
                return _staff_address(org, req, source, primary, for_staff, context)
            if conflict.code != "email_in_use":
                raise
    raise Conflict("Another request used this email at the same time; try again.")


def _staff_address(
    org: Organization,
    req: PublicBooking | PublicPurchase,
    source: str,
    primary: Provider,
    for_staff: Callable[[Tx, Provider], R],
    context: Callable[[R], dict[str, Any]],
) -> R:
    """R12, R51: a staff address is never a client's, but an anonymous caller must not learn
    that it is staff: the request is answered as any other. The practice's audit log keeps
    the refusal (its staff see it), and the address is told by email."""
    staff = identities.find_by_email(req.email)
    tx = Tx()
    result = for_staff(tx, primary)
    if staff is not None:
        outbox.queue(
            tx,
            org_id=org.org_id,
            kind="staff_address_used",
            identity_id=staff.id,
            to=staff.email,
            context={"how": _HOW[source], **context(result)},
        )
    tx.commit()
    logs.event("public.staff_address", org_id=org.org_id, source=source)
    return result


def _known_client(org_id: str, email: str) -> ClientProfile | None:
    claim = db.get(OrgEmailClaim, org_id, OrgEmailClaim.key_for(email))
    if claim is None or not claim.client_ids:
        return None
    return db.get(ClientProfile, org_id, sorted(claim.client_ids)[0])


def _provider(providers: list[Provider], provider_id: str) -> Provider:
    for provider in providers:
        if provider.provider_id == provider_id:
            return provider
    return arrivals.founding_admin(providers)
