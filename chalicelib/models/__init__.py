"""PynamoDB models: keys and indexes. One model per table owns the table's indexes."""

from __future__ import annotations

from pynamodb.models import Model

from chalicelib.models.appointments import Reminder
from chalicelib.models.audit import AuditEvent
from chalicelib.models.emails import EmailJob
from chalicelib.models.identities import Identity, SignInFailures
from chalicelib.models.links import Link
from chalicelib.models.orgs import Provider
from chalicelib.models.profiles import ClientProfile
from chalicelib.models.records import PortalRecord
from chalicelib.models.search import ClientSearchEntry
from chalicelib.models.sessions import Session
from chalicelib.models.tokens import Token

# The model of each table that declares its key schema and every index (used to create
# tables locally and, later, to check the deployment template against the code).
TABLE_OWNERS: tuple[type[Model], ...] = (
    Identity,
    Provider,
    ClientProfile,
    Session,
    EmailJob,
    Reminder,
    Token,
    AuditEvent,
    PortalRecord,
    Link,
    ClientSearchEntry,
)
# Models with a TTLAttribute, one per table that expires items.
TTL_MODELS: tuple[type[Model], ...] = (SignInFailures, Session, EmailJob, Token)
