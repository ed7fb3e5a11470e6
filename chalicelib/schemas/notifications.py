"""A request to notify a client (R54): a kind of the catalogue and the data its email says.

The body is checked in two steps with one answer: `kind` must be in the catalogue, then `data`
must fit that kind's schema (rules/notifications.py); either failing is the contract's 400 with
`details` naming the fields (`kind`, `data.<field>`).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import Field, StringConstraints, ValidationError, field_validator

from chalicelib.errors import Invalid
from chalicelib.rules.notifications import NOTIFICATIONS, Data
from chalicelib.schemas.common import Body

IDEMPOTENCY_KEY_MAX = 255


class SendNotification(Body):
    kind: Annotated[str, StringConstraints(max_length=64)]
    data: Annotated[dict[str, Any], Field(default_factory=dict)]

    @field_validator("kind")
    @classmethod
    def _in_the_catalogue(cls, value: str) -> str:
        if value not in NOTIFICATIONS:
            raise ValueError(f"Not a kind of notification; one of: {', '.join(NOTIFICATIONS)}.")
        return value


def data_of(req: SendNotification) -> Data:
    """The request's data as its kind's schema, or a 400 naming each field that does not fit."""
    schema = NOTIFICATIONS[req.kind].data
    try:
        return schema.model_validate_json(json.dumps(req.data))
    except ValidationError as exc:
        details = [
            {
                "field": ".".join(["data", *(str(part) for part in error["loc"])]),
                "message": "This field is not part of this kind's data."
                if error["type"] == "extra_forbidden"
                else error["msg"],
            }
            for error in exc.errors(include_url=False, include_input=False)
        ]
        raise Invalid(
            f"The data does not fit a {req.kind} notification: see details.", details=details
        ) from None


def idempotency_key(value: str | None) -> str | None:
    """The `Idempotency-Key` header: printable, at most 255 characters, or absent."""
    if value is None:
        return None
    if not 1 <= len(value) <= IDEMPOTENCY_KEY_MAX or not value.isprintable():
        raise Invalid(
            "The Idempotency-Key header must be 1 to 255 printable characters.",
            details=[{"field": "Idempotency-Key", "message": "1 to 255 printable characters."}],
        )
    return value
