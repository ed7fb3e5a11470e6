"""The local stage's outbox as it shows a sent email. Its own module: only the local stage's
routes import it, so no other stage loads the local stage's services (issue #17)."""

from __future__ import annotations

from typing import Any

from chalicelib.handlers.views.common import iso_or_none
from chalicelib.services.local_stage import OutboxEmail


def outbox_view(sent: OutboxEmail) -> dict[str, Any]:
    """A sent email as the local outbox shows it (API.md "Local stage only"): the job, and the
    body from the local stage's own copy (the job keeps none, R53)."""
    job, copy = sent.job, sent.copy
    return {
        "job_id": job.job_id,
        "kind": job.kind,
        "org_id": job.branded_org_id or job.org_id,
        "to": job.to,
        "subject": copy.subject,
        "html": copy.html,
        "text": copy.text,
        "sent_at": iso_or_none(job.sent_at),
    }
