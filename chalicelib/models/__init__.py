"""PynamoDB models: keys and indexes. One model per table owns the table's indexes."""

from __future__ import annotations

from pynamodb.models import Model

from chalicelib.models.identities import Identity, SignInFailures
from chalicelib.models.orgs import Provider
from chalicelib.models.profiles import ClientProfile
from chalicelib.models.sessions import Session

# The model of each table that declares its key schema and every index (used to create
# tables locally and, later, to check the deployment template against the code).
TABLE_OWNERS: tuple[type[Model], ...] = (Identity, Provider, ClientProfile, Session)
# Models with a TTLAttribute, one per table that expires items.
TTL_MODELS: tuple[type[Model], ...] = (SignInFailures, Session)


def create_tables() -> None:
    """Create every table with its indexes and TTL (local stack and tests; AWS gets them from
    the deployment template)."""
    for owner in TABLE_OWNERS:
        if not owner.exists():
            owner.create_table(wait=True)
    for model in TTL_MODELS:
        model.update_ttl(ignore_update_ttl_errors=True)
