"""The local stage's own body (API.md "Local stage only"): the tick that runs the triggers,
at a moment the caller may name."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from chalicelib.schemas.common import Body, Moment

# A share of calls, at most half: a stack that fails every call tells nothing.
Rate = Annotated[float, Field(ge=0, le=0.5)]


class TickBody(Body):
    now: Moment | None = None


class FaultsBody(Body):
    """The local stage's fault switch (issue #18, `make load`): the share of calls that fail."""

    dynamodb: Rate = 0.0  # any DynamoDB call answers ProvisionedThroughputExceededException
    ses: Rate = 0.0  # SendEmail answers 503 ServiceUnavailable
    sqs: Rate = 0.0  # SendMessage(Batch) answers 500 InternalError
