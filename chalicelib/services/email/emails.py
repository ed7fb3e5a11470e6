"""What staff see of email: the log with each job's status and reason (R43), and previews of
every kind in their own branding before it is ever sent (B8)."""

from __future__ import annotations

from pynamodb.indexes import GlobalSecondaryIndex

from chalicelib import paging
from chalicelib.errors import NotFound
from chalicelib.models.emails import EmailJob
from chalicelib.rules.actors import Actor
from chalicelib.rules.email_kinds import KINDS
from chalicelib.rules.settings import org_branding
from chalicelib.schemas.emails import EmailLogQuery
from chalicelib.services import access, records
from chalicelib.services.email import rendering
from chalicelib.services.invites import invites


def email_log(
    actor: Actor, org_id: str, q: EmailLogQuery
) -> tuple[list[EmailJob], str | None, dict[str, str]]:
    """Newest first; one client's emails with `client_id`. One Query on an index, and one
    BatchGetItem for the status of the invites the page's invite emails carry (B1)."""
    access.staff_of(actor, org_id)
    index: GlobalSecondaryIndex[EmailJob]
    if q.client_id:
        index, attr, partition = EmailJob.by_client, "org_client", f"{org_id}#{q.client_id}"
    else:
        index, attr, partition = EmailJob.by_org, "org_id", org_id
    start = paging.decode(q.cursor, {"job_id", "created_at", attr}, {attr: partition})
    jobs: list[EmailJob]
    jobs, cursor = paging.page(
        lambda key: index.query(
            partition, scan_index_forward=False, limit=q.limit, last_evaluated_key=key
        ),
        start,
    )
    return jobs, cursor, invites.link_statuses(jobs)


def preview_kinds(actor: Actor, org_id: str) -> list[str]:
    access.staff_of(actor, org_id)
    return sorted(KINDS)


def preview(actor: Actor, org_id: str, kind_name: str) -> str:
    """B8: the kind rendered in the organization's branding with sample data."""
    access.staff_of(actor, org_id)
    kind = KINDS.get(kind_name)
    if kind is None:
        raise NotFound("No such kind of email.", code="email_kind_not_found")
    return rendering.render(kind, kind.sample, org_branding(records.org(org_id))).html
