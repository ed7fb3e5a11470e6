"""The catalogue of notifications the platform's other services ask Portico to send (R54).

One table, read by everything that needs a kind: the email worker (its feature decides
suppression, R36; its subject and templates `email/<kind>.html|txt` render it, R40), the
previews (B8, with the kind's sample), the notifications API (its `data` schema, 400 when the
data does not fit) and openapi.yaml (a test keeps the documented kinds and schemas equal to
this table). Every kind is about one client's business at one practice: its branding (R9),
and copies to the client's copy holders (R29).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from chalicelib.rules.settings import Feature

# What the other services name things with: short one-line text; money in minor units.
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
Cents = Annotated[int, Field(ge=0, le=100_000_000)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Url = Annotated[str, StringConstraints(max_length=2000, pattern=r"^https://\S+$")]


class Data(BaseModel):
    """What one kind's email says; nothing else is accepted (a typo is a 400, not a blank)."""

    # Strict, read as JSON: a date is an ISO string, an amount a number, never "12" or 12.5.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, defer_build=True)


class PaymentReceipt(Data):
    description: Label
    amount_cents: Cents | None = None
    currency: Currency = "USD"
    paid_on: date | None = None
    receipt_number: Label | None = None


class Invoice(Data):
    invoice_number: Label
    amount_cents: Cents
    currency: Currency = "USD"
    due_on: date
    description: Label | None = None
    pay_url: Url | None = None


class Superbill(Data):
    period_start: date
    period_end: date
    description: Label | None = None


class FormRequested(Data):
    form_name: Label
    due_on: date | None = None
    note: Note | None = None


class DocumentShared(Data):
    document_name: Label
    shared_by: Label | None = None
    note: Note | None = None


class CarePlanShared(Data):
    plan_name: Label
    note: Note | None = None


class ProgramAssigned(Data):
    program_name: Label
    starts_on: date | None = None
    note: Note | None = None


class PackagePurchased(Data):
    package_name: Label
    sessions: Annotated[int, Field(ge=1, le=1000)] | None = None


class GoalReminder(Data):
    goal_name: Label
    note: Note | None = None


@dataclass(frozen=True)
class Notification:
    """One kind of the catalogue: the feature its emails belong to, what its data must be,
    the subject (a Jinja2 expression over `client`, `data` and `brand`), and sample data for
    its preview."""

    name: str
    feature: Feature
    data: type[Data]
    subject: str
    sample: dict[str, Any]

    def sample_context(self) -> dict[str, Any]:
        """The context of a preview: a job's context shape, with the sample as its data."""
        return context(
            {"first_name": "Maya"},
            self.data.model_validate_json(json.dumps(self.sample)),
            "https://portal.example/",
        )


def context(client: dict[str, Any], data: Data, portal_url: str) -> dict[str, Any]:
    """The context an email job of a notification carries (no secret: nothing is sealed)."""
    return {"client": client, "data": data.model_dump(mode="json"), "portal_url": portal_url}


NOTIFICATIONS: dict[str, Notification] = {
    kind.name: kind
    for kind in (
        Notification(
            "payment_receipt",
            "bills",
            PaymentReceipt,
            "Your receipt from {{ brand.display_name }}",
            {
                "description": "Package: 5 massage sessions",
                "amount_cents": 42500,
                "currency": "USD",
                "paid_on": "2026-12-01",
                "receipt_number": "R-1042",
            },
        ),
        Notification(
            "invoice",
            "bills",
            Invoice,
            "Invoice {{ data.invoice_number }} from {{ brand.display_name }}",
            {
                "invoice_number": "INV-2031",
                "amount_cents": 12000,
                "currency": "USD",
                "due_on": "2026-12-15",
                "description": "Follow-up session, 50 minutes",
            },
        ),
        Notification(
            "superbill",
            "bills",
            Superbill,
            "Your superbill from {{ brand.display_name }}",
            {"period_start": "2026-11-01", "period_end": "2026-11-30"},
        ),
        Notification(
            "form_requested",
            "forms",
            FormRequested,
            "{{ brand.display_name }} asks you to fill in {{ data.form_name }}",
            {"form_name": "Health history", "due_on": "2026-12-08"},
        ),
        Notification(
            "document_shared",
            "documents",
            DocumentShared,
            "{{ brand.display_name }} shared a document with you",
            {"document_name": "Exercise sheet", "shared_by": "Dr. Jordan Lee"},
        ),
        Notification(
            "care_plan_shared",
            "care_plans",
            CarePlanShared,
            "Your care plan at {{ brand.display_name }}",
            {"plan_name": "Lower back recovery", "note": "Start gently this week."},
        ),
        Notification(
            "program_assigned",
            "programs",
            ProgramAssigned,
            "You are enrolled in {{ data.program_name }}",
            {"program_name": "Prenatal yoga, 8 weeks", "starts_on": "2026-12-07"},
        ),
        Notification(
            "package_purchased",
            "packages",
            PackagePurchased,
            "Your package at {{ brand.display_name }}: {{ data.package_name }}",
            {"package_name": "5 massage sessions", "sessions": 5},
        ),
        Notification(
            "goal_reminder",
            "goals",
            GoalReminder,
            "A reminder about your goal: {{ data.goal_name }}",
            {"goal_name": "Walk 30 minutes a day", "note": "Three days in a row so far!"},
        ),
    )
}
