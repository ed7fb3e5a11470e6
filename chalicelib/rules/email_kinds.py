"""Every kind of email Portico sends: its template, the portal feature it belongs to (R36),
whether it is about one organization's business or about the identity itself (R9), and the
sample data staff preview it with before it is ever sent (B8)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chalicelib.rules.notifications import NOTIFICATIONS


@dataclass(frozen=True)
class EmailKind:
    name: str
    subject: str  # a Jinja2 expression over the same context as the body
    feature: str | None = None  # R36: off for the client means not sent
    identity_level: bool = False  # R9: branded by the identity's last organization
    copies: bool = False  # R29: copy holders of the client receive a copy when it is sent
    # The value of the context that is a secret link or code: never in a job's context, but
    # sealed beside it until sent (R53); a job whose token is no longer live is not sent (R43).
    sealed: str | None = None
    # The preview's sample data (B8), or the function that draws it: a notification's sample is
    # checked against its data schema, which pydantic builds on first use, so it is drawn when
    # a preview asks rather than at every cold start (issue #17).
    example: dict[str, Any] | Callable[[], dict[str, Any]] = field(default_factory=dict)

    @property
    def live_link(self) -> bool:
        return self.sealed is not None

    @property
    def sample(self) -> dict[str, Any]:
        return self.example() if callable(self.example) else self.example


_APPOINTMENT_SAMPLE = {
    "client": {"first_name": "Maya"},
    "appointment": {
        "starts_at": "2026-12-01T15:00:00Z",
        "minutes": 50,
        "type": "Initial consultation",
        "provider": "Dr. Jordan Lee",
    },
}

KINDS: dict[str, EmailKind] = {
    kind.name: kind
    for kind in (
        EmailKind(
            "appointment_confirmation",
            "Your appointment on {{ appointment.starts_at | when }} is confirmed",
            feature="appointments",
            copies=True,
            example=_APPOINTMENT_SAMPLE,
        ),
        EmailKind(
            "appointment_reminder",
            "Reminder: your appointment on {{ appointment.starts_at | when }}",
            feature="appointments",
            copies=True,
            example=_APPOINTMENT_SAMPLE,
        ),
        EmailKind(
            "caregiver_invite",
            "Accept access to {{ receiver.first_name }}'s account at {{ brand.display_name }}",
            sealed="accept_url",
            example={
                "client": {"first_name": "Jordan"},
                "receiver": {"first_name": "Sam"},
                "accept_url": "https://portal.example/caregiver-invite/sample-token",
                "days": 30,
            },
        ),
        EmailKind(
            "caregiver_notice",
            "Notifications you may receive about {{ receiver.first_name }}",
            example={
                "client": {"first_name": "Jordan"},
                "receiver": {"first_name": "Sam"},
                "copies": True,
            },
        ),
        EmailKind(
            "caregiver_access_ending",
            "Caregiver access to {{ receiver.first_name }}'s account ends on {{ ends_on }}",
            example={
                "client": {"first_name": "Jordan"},
                "receiver": {"first_name": "Sam"},
                "caregiver": {"first_name": "Jordan"},
                "ends_on": "2027-01-31",
            },
        ),
        EmailKind(
            # R17: to the primary provider of a client added by a public booking or purchase.
            "new_client_notification",
            "New client: {{ client.first_name }} {{ client.last_name }}",
            example={
                "provider": {"first_name": "Jordan"},
                "client": {"first_name": "Maya", "last_name": "Chen"},
                "how": "by booking an appointment online",
                "appointment": _APPOINTMENT_SAMPLE["appointment"],
                "package": None,
            },
        ),
        EmailKind(
            "password_reset",
            "Reset your password",
            identity_level=True,
            sealed="reset_url",
            example={"reset_url": "https://portal.example/reset/sample-token", "hours": 24},
        ),
        EmailKind(
            "invite",
            "{% if follow_up %}Reminder: {% endif %}{{ brand.display_name }} invites you to "
            "its client portal",
            sealed="invite_url",
            example={
                "client": {"first_name": "Maya"},
                "invite_url": "https://portal.example/invite/sample-token",
                "expires_at": "2026-12-31T09:00:00Z",
                "follow_up": False,
            },
        ),
        EmailKind(
            "invite_requested",
            "A client asks for a new invitation",
            example={
                "provider": {"first_name": "Jordan"},
                "client": {"first_name": "Maya", "last_name": "Chen"},
                "reason": "it expired",
            },
        ),
        EmailKind(
            # R16, R23, R51: to the address a group sign-up gave. A new address gets the link
            # that finishes the sign-up (and proves the mailbox, R50); an address with a login
            # is told what to do, with a reset link. One kind for both, so that the practice's
            # email log does not tell either (R4).
            "join_confirmation",
            "Joining {{ group.name }} at {{ brand.display_name }}",
            # The sign-up's confirmation link, or for a login the reset link (one name, sealed).
            sealed="action_url",
            example={
                "client": {"first_name": "Maya"},
                "group": {"name": "Prenatal Yoga"},
                "login": False,
                "action_url": "https://portal.example/join-confirm/sample-token",
                "hours": 24,
            },
        ),
        EmailKind(
            # R12, R51: a public booking or purchase named a staff address of the practice:
            # nothing was made, and only the address is told (the caller was answered alike).
            "staff_address_used",
            "Your staff address was used on {{ brand.display_name }}'s public page",
            example={
                "how": "by booking an appointment online",
                "appointment": _APPOINTMENT_SAMPLE["appointment"],
                "package": None,
            },
        ),
        EmailKind(
            # B11: to the primary provider of a client who asked, from the portal, to leave.
            "leave_requested",
            "{{ client.first_name }} {{ client.last_name }} asks to leave {{ brand.display_name }}",
            example={
                "provider": {"first_name": "Jordan"},
                "client": {"first_name": "Maya", "last_name": "Chen"},
                "reason": "I am moving to another city.",
                "client_id": "cl_sample",
            },
        ),
        EmailKind(
            # R49: to a provider an admin added; about the practice's business, so its branding.
            "staff_invite",
            "{{ brand.display_name }} invites you to join its team on Portico",
            sealed="invite_url",
            example={
                "provider": {"first_name": "Jordan"},
                "role": "provider",
                "invite_url": "https://portal.example/staff-invite/sample-token",
                "expires_at": "2026-12-31T09:00:00Z",
            },
        ),
        EmailKind(
            # B2 for R49: to each active admin, when a dead staff invite asks for a new one.
            "staff_invite_requested",
            "{{ provider.first_name }} {{ provider.last_name }} asks for a new staff invitation",
            example={
                "admin": {"first_name": "Ada"},
                "provider": {"first_name": "Jordan", "last_name": "Lee"},
                "reason": "it expired",
            },
        ),
        EmailKind(
            "otp_code",
            "Your sign-in code",
            identity_level=True,
            sealed="code",
            example={"code": "123456", "minutes": 10},
        ),
    )
}
# R54: the notifications of the portal's features, from their one catalogue; each is about the
# client's business at the practice, and its copy holders receive a copy (R29).
KINDS.update(
    {
        name: EmailKind(
            name,
            notification.subject,
            feature=notification.feature,
            copies=True,
            example=notification.sample_context,
        )
        for name, notification in NOTIFICATIONS.items()
    }
)
