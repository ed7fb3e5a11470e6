"""Staff import clients from a CSV file (R18), each row through the one way a client arrives.

Every row ends created, skipped (a duplicate: already a client of the practice, or the same
person earlier in the file) or rejected with a reason a person can act on; a bad row never
stops the others. Running the same file again creates nothing twice: a row with an email is
held by the practice's email claim (R12), one without by an import key of its name and date of
birth, each written in the row's own transaction under a does-not-exist condition.

Speed (API Gateway cuts a request at 29 s): the practice's providers and groups are read once,
every row's email claim, import key, identity and staff claim in BatchGetItems of 100, and the
rows that remain go as one TransactWriteItems each, several at a time on a bounded pool of
threads. Round trips per row are therefore about one, whatever the file's size.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import TypeVar

from pynamodb.exceptions import PynamoDBException

from chalicelib import config, ids, logs
from chalicelib.errors import Conflict, Invalid, PorticoError, TooLarge
from chalicelib.models.identities import EmailClaim, Identity
from chalicelib.models.orgs import Group, Organization, Provider, ProviderStatus, StaffClaim
from chalicelib.models.profiles import ImportKey, OrgEmailClaim
from chalicelib.rules.actors import Actor, provider_ref
from chalicelib.rules.people import name_problem
from chalicelib.schemas.common import NAME_MAX, normalize_email
from chalicelib.services import access, records
from chalicelib.services.clients import arrivals
from chalicelib.services.clients.arrivals import Arrival
from chalicelib.services.practices import orgs

REQUIRED = ("first_name", "last_name", "email", "phone", "dob")
OPTIONAL = ("primary_provider_email", "group")
_PHONE = re.compile(r"^\+?[0-9][0-9 ().-]{2,30}$")
_DELIMITERS = (",", ";", "\t")


class RowStatus(StrEnum):
    """What became of one line of the file (R18): a client added, a line skipped as one
    already there (or twice in the file), or a line rejected with its reason."""

    CREATED = "created"
    SKIPPED = "skipped"
    REJECTED = "rejected"


@dataclass
class RowOutcome:
    """What became of one line of the file."""

    line: int
    status: RowStatus
    reason: str | None = None
    client_id: str | None = None


@dataclass
class _Row:
    """A row that passed its checks, waiting for the practice's records to decide it."""

    line: int
    first_name: str
    last_name: str
    email: str | None
    phone: str | None
    dob: date | None
    group: Group | None
    primary: Provider | None
    key: str  # the person in this file: the email, else name and date of birth
    identity: Identity | None = None
    outcome: RowOutcome | None = field(default=None)


class _Rejected(ValueError):
    """A row's value a person must fix; the message says what and how."""


def import_clients(
    actor: Actor, org_id: str, body: bytes, *, send_invites: bool, charset: str | None = None
) -> list[RowOutcome]:
    """R18: import the file's rows; the outcome of each line, in file order."""
    staff = access.staff_of(actor, org_id)
    if len(body) > config.MAX_CSV_BODY_BYTES:
        raise TooLarge(
            "The file is larger than 5 MB; split it and import each part.", code="body_too_large"
        )
    org = records.org(org_id)
    header, lines = _read(_decode(body, charset))
    providers = orgs.providers_of(org_id)
    groups = {g.name.casefold(): g for g in Group.query(org_id, Group.sk.startswith("group#"))}
    outcomes: list[RowOutcome] = []
    rows: list[_Row] = []
    first_line_of: dict[str, int] = {}
    for line, values in lines:
        try:
            row = _row(line, header, values, org, groups, providers)
        except _Rejected as problem:
            outcomes.append(RowOutcome(line, RowStatus.REJECTED, str(problem)))
            continue
        if row.key in first_line_of:
            outcomes.append(
                RowOutcome(
                    line, RowStatus.SKIPPED, f"The same person as line {first_line_of[row.key]}."
                )
            )
            continue
        first_line_of[row.key] = line
        rows.append(row)
    _decide_from_records(org_id, rows)
    pending = [row for row in rows if row.outcome is None]
    actor_ref = provider_ref(staff.provider_id)
    with ThreadPoolExecutor(max_workers=max(1, min(config.IMPORT_WORKERS, len(pending)))) as pool:
        outcomes += pool.map(lambda row: _admit(org, row, actor_ref, send_invites), pending)
    outcomes += [row.outcome for row in rows if row.outcome is not None]
    outcomes.sort(key=lambda outcome: outcome.line)
    logs.event(
        "clients.imported",
        org_id=org_id,
        actor=staff.provider_id,
        created=sum(o.status == RowStatus.CREATED for o in outcomes),
        skipped=sum(o.status == RowStatus.SKIPPED for o in outcomes),
        rejected=sum(o.status == RowStatus.REJECTED for o in outcomes),
    )
    return outcomes


# Reading the file -----------------------------------------------------------------------------


def _decode(body: bytes, charset: str | None) -> str:
    """Spreadsheets export UTF-8 (with or without BOM), UTF-16 with BOM, or a Windows code page."""
    if body.startswith(codecs.BOM_UTF8):
        return body[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace")
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return body.decode("utf-16", errors="replace")
    tried = [charset] if charset else []
    for encoding in (*tried, "utf-8", "cp1252"):
        try:
            return body.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue
    return body.decode("latin-1")  # every byte is a character: never fails


def _read(text: str) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """The normalized header and the file's records with the line each starts on. 400 when
    columns are missing, naming them."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    if not first:
        raise Invalid(
            "The file is empty; its first line names the columns.",
            code="invalid_csv",
            details=[{"field": "body", "message": "The file has no header line."}],
        )
    delimiter = max(_DELIMITERS, key=first.count)
    csv.field_size_limit(max(csv.field_size_limit(), config.MAX_CSV_BODY_BYTES))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header: list[str] = []
    for values in reader:
        if any(value.strip() for value in values):
            header = [_column(value) for value in values]
            break
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise Invalid(
            f"The file lacks the column(s) {', '.join(missing)}. The first line names the "
            f"columns: {', '.join(REQUIRED + OPTIONAL)} (the last two optional).",
            code="missing_columns",
            details=[{"field": name, "message": "This column is missing."} for name in missing],
        )

    def records() -> Iterator[tuple[int, list[str]]]:
        line = reader.line_num + 1
        for values in reader:
            if any(value.strip() for value in values):  # trailing empty lines, blank rows
                yield line, values
            line = reader.line_num + 1

    return header, records()


def _column(name: str) -> str:
    """`First Name`, ` first_name `, `FIRST-NAME` are all `first_name`."""
    return re.sub(r"[\s\-]+", "_", name.replace("\ufeff", "").strip().casefold())


# Checking a row ---------------------------------------------------------------------------------


def _row(
    line: int,
    header: list[str],
    values: list[str],
    org: Organization,
    groups: dict[str, Group],
    providers: list[Provider],
) -> _Row:
    if len(values) > len(header) and any(v.strip() for v in values[len(header) :]):
        raise _Rejected(
            "This line has more values than the header has columns; put values that contain "
            "the delimiter in double quotes."
        )
    cells = {name: values[i].strip() if i < len(values) else "" for i, name in enumerate(header)}
    first_name = _name(cells, "first_name")
    last_name = _name(cells, "last_name")
    email = _optional(cells, "email", _email)
    phone = _optional(cells, "phone", _phone)
    dob = _optional(cells, "dob", _dob)
    group = None
    if cells.get("group"):
        group = groups.get(cells["group"].casefold())
        if group is None:
            raise _Rejected("group: no group of this practice has this name; create it first.")
    primary = _primary(cells, org, group, providers)
    key = email or ids.fingerprint(
        f"{first_name.casefold()}|{last_name.casefold()}|{dob.isoformat() if dob else ''}"
    )
    return _Row(line, first_name, last_name, email, phone, dob, group, primary, key)


def _name(cells: dict[str, str], column: str) -> str:
    value = cells.get(column, "")
    if not value:
        raise _Rejected(f"{column}: required.")
    if len(value) > NAME_MAX:
        raise _Rejected(f"{column}: at most {NAME_MAX} characters.")
    problem = name_problem(value)
    if problem:
        raise _Rejected(f"{column}: {problem}")
    return value


T = TypeVar("T")


def _optional(cells: dict[str, str], column: str, check: Callable[[str], T]) -> T | None:
    value = cells.get(column, "")
    if not value:
        return None
    try:
        return check(value)
    except ValueError as exc:
        raise _Rejected(f"{column}: {exc}") from None


def _email(value: str) -> str:
    return normalize_email(value)


def _phone(value: str) -> str:
    if not _PHONE.match(value):
        raise ValueError("not a phone number; write digits, spaces, ( ) . - and a leading +.")
    return value


def _dob(value: str) -> date:
    try:
        born = date.fromisoformat(value)
    except ValueError:
        raise ValueError("not a date; write it as YYYY-MM-DD (for example 1988-04-12).") from None
    if born > date.today() or born.year < 1900:
        raise ValueError("a date of birth is a past date after 1900.")
    return born


def _primary(
    cells: dict[str, str], org: Organization, group: Group | None, providers: list[Provider]
) -> Provider:
    """R10: the provider the row names, else the group's or practice's default, else the only
    provider; the row is rejected when none of these decides."""
    named = cells.get("primary_provider_email", "")
    if named:
        try:
            address = normalize_email(named)
        except ValueError:
            raise _Rejected("primary_provider_email: not a valid email address.") from None
        match = next(
            (p for p in providers if p.email == address and p.status == ProviderStatus.ACTIVE), None
        )
        if match is None:
            raise _Rejected("primary_provider_email: no provider of this practice has it.")
        if match.role not in access.CLINICAL:
            raise _Rejected(
                "primary_provider_email: members with the staff role cannot hold clients; "
                "name a provider."
            )
        return match
    chosen = arrivals.primary_for_arrival(org, group, providers)
    if chosen is None:
        raise _Rejected(
            "primary_provider_email: this practice has several providers and no default; name "
            "one, or set a default provider for the practice or the group."
        )
    return chosen


# Deciding with the practice's records, in batches ----------------------------------------------


def _decide_from_records(org_id: str, rows: list[_Row]) -> None:
    """Skip rows already in the practice, reject staff addresses, and note each email's
    identity: a handful of BatchGetItems for the whole file (R12, R18)."""
    emailed = [row for row in rows if row.email]
    keyed = [row for row in rows if not row.email]
    taken = {
        claim.key: claim
        for claim in OrgEmailClaim.batch_get(
            [(org_id, OrgEmailClaim.key_for(row.email or "")) for row in emailed]
        )
        if claim.client_ids
    }
    for row in emailed:
        claim = taken.get(OrgEmailClaim.key_for(row.email or ""))
        if claim:
            row.outcome = RowOutcome(
                row.line,
                RowStatus.SKIPPED,
                "Already a client of this practice (same email).",
                sorted(claim.client_ids or ())[0],
            )
    imported = {
        item.key: item
        for item in ImportKey.batch_get([(org_id, ImportKey.key_for(row.key)) for row in keyed])
    }
    for row in keyed:
        item = imported.get(ImportKey.key_for(row.key))
        if item:
            row.outcome = RowOutcome(
                row.line,
                RowStatus.SKIPPED,
                "Imported before (same name and date of birth, no email).",
                item.imported_client_id,
            )
    open_rows = [row for row in emailed if row.outcome is None]
    claims = {
        claim.key: claim.identity_id
        for claim in EmailClaim.batch_get(
            [EmailClaim.key_for(row.email or "") for row in open_rows]
        )
    }
    identities = {
        identity.id: identity for identity in Identity.batch_get(sorted(set(claims.values())))
    }
    staff = {
        claim.sk
        for claim in StaffClaim.batch_get(
            [(org_id, StaffClaim.sk_for(identity_id)) for identity_id in identities]
        )
    }
    for row in open_rows:
        identity_id = claims.get(EmailClaim.key_for(row.email or ""))
        row.identity = identities.get(identity_id) if identity_id else None
        if row.identity and StaffClaim.sk_for(row.identity.id) in staff:
            row.outcome = RowOutcome(
                row.line,
                RowStatus.REJECTED,
                "This address belongs to a staff account of this practice; a client needs "
                "their own email.",
            )


def _admit(org: Organization, row: _Row, actor: str, send_invites: bool) -> RowOutcome:
    """One row, one transaction; its failure is its own (R18)."""
    assert row.primary is not None
    arrival = Arrival(
        first_name=row.first_name,
        last_name=row.last_name,
        source="import",
        primary_provider_id=row.primary.provider_id,
        email=row.email,
        phone=row.phone,
        dob=row.dob,
        group_id=row.group.group_id if row.group else None,
        send_invite=send_invites,
        identity=row.identity,
        import_key=None if row.email else row.key,
        details={"line": row.line},
    )
    try:
        admitted = arrivals.admit(org, arrival, actor=actor)
    except Conflict as conflict:
        if conflict.code in {"email_in_use", "already_imported"}:  # another import, meanwhile
            return RowOutcome(row.line, RowStatus.SKIPPED, "Already a client of this practice.")
        return RowOutcome(row.line, RowStatus.REJECTED, conflict.message)
    except PorticoError as error:
        return RowOutcome(row.line, RowStatus.REJECTED, error.message)
    except PynamoDBException as error:
        logs.event("clients.import_row_failed", org_id=org.org_id, error=type(error).__name__)
        return RowOutcome(
            row.line,
            RowStatus.REJECTED,
            "Could not be saved just now; import the same file again to finish (rows already "
            "added are skipped).",
        )
    return RowOutcome(row.line, RowStatus.CREATED, client_id=admitted.profile.client_id)
