"""An appointment, as staff and the client portal see it."""

from __future__ import annotations

from typing import Any

from chalicelib.handlers.views.common import iso_or_none
from chalicelib.models.appointments import Appointment


def appointment_view(appointment: Appointment) -> dict[str, Any]:
    return {
        "id": appointment.appointment_id,
        "provider_id": appointment.provider_id,
        "client_ids": list(appointment.client_ids),
        "starts_at": iso_or_none(appointment.starts_at),
        "minutes": appointment.minutes,
        "type": appointment.type,
        "created_at": iso_or_none(appointment.created_at),
    }
