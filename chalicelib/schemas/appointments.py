"""Appointments: booking one for a provider and up to twenty clients."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from chalicelib.schemas.common import Body, FutureMoment, Id, Name


class CreateAppointment(Body):
    provider_id: Id
    client_ids: Annotated[list[Id], Field(min_length=1, max_length=20)]
    starts_at: FutureMoment
    minutes: Annotated[int, Field(ge=5, le=24 * 60)]
    type: Name
