"""The audit log's query (R47, B6): one client's events or the practice's, paged."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from chalicelib.schemas.common import Id


class AuditQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    client_id: Id | None = None
    limit: Annotated[int, Field(ge=1, le=100)] = 50
    cursor: Annotated[str, StringConstraints(max_length=2000)] | None = None
