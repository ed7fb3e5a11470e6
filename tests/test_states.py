"""Each rule written once (issue #11): a state has one spelling, its named member.

Every set of states the code compares has one home: a StrEnum beside the model that stores it
(`ProfileStatus`, `ProviderStatus`, `Role`, `ClientType`, `EmailStatus`, `TokenStatus`,
`GrantStatus`, `SessionKind`, in chalicelib/models) or beside the dataclass that carries a
derived one (`ClosedReason`, `LandingState`, `ResetState`, `RowStatus`). A comparison with a
bare string is a second spelling that neither mypy nor a rename follows, so a misspelled or
renamed state would compare false in silence. This scan of chalicelib's source refuses one:

- no comparison (`==`, `!=`, `in`, `not in`) and no DynamoDB condition or update (`.is_in`,
  `.set`) on a state attribute names a known state value as a string constant;
- no state field (`.status`, `.state`, `.role`, `.client_type`, `.get("status")`) is compared
  with any string constant, known or not, so a misspelling cannot creep in either.

The request schemas keep their own Literal strings (what they accept must not change); a test
holds them to the same sets. A StrEnum member is a str equal to its value, so what is stored
and answered is unchanged: the last tests check it on the wire.
"""

from __future__ import annotations

import ast
import importlib
import json
from enum import StrEnum
from pathlib import Path
from typing import get_args

from chalicelib import aws as aws_clients
from chalicelib.db import Tx
from chalicelib.handlers.http import ok
from chalicelib.models.orgs import Role
from chalicelib.models.profiles import ClientType, ProfileStatus
from chalicelib.models.tokens import Token, TokenStatus
from chalicelib.rules.actors import AccountKind
from chalicelib.schemas import clients as client_schemas
from chalicelib.schemas import common as common_schemas
from chalicelib.schemas import practices as practice_schemas
from chalicelib.services import tokens

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "chalicelib"
SOURCES = sorted(PACKAGE.rglob("*.py"))


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _state_sets() -> list[type[StrEnum]]:
    """Every StrEnum chalicelib defines: each is a set of states with its one spelling."""
    found: list[type[StrEnum]] = []
    for path in SOURCES:
        name = _module_name(path)
        for value in vars(importlib.import_module(name)).values():
            if isinstance(value, type) and issubclass(value, StrEnum) and value.__module__ == name:
                found.append(value)
    return found


STATE_SETS = _state_sets()
KNOWN = frozenset(member.value for states in STATE_SETS for member in states)
# Attributes (and the JSON grant's key) that hold a state: compared only with named members.
STATE_FIELDS = frozenset({"status", "state", "role", "client_type"})

# Comparisons that must keep a string, each with why; keyed by file and source text.
ALLOWED = {
    # "all" is the client list's filter for every status (ListClientsQuery.status, a request
    # value the schema accepts), not a profile's state: it picks the index, never a status.
    ("chalicelib/services/clients/clients.py", "q.status != 'all'"),
}


def _strings(node: ast.expr) -> list[str]:
    """The string constants an operand spells: itself, or the elements of a literal display."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return [s for element in node.elts for s in _strings(element)]
    return []


def _is_state_field(node: ast.expr) -> bool:
    if isinstance(node, ast.Attribute):
        return node.attr in STATE_FIELDS
    return (  # link.portal_access.get("status"), the caregiver grant's status
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "get"
        and bool(node.args)
        and _strings(node.args[0]) == ["status"]
    )


def _findings(check: str) -> list[str]:
    found = []
    for path in SOURCES:
        relative = str(path.relative_to(ROOT))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Compare):
                operands = [node.left, *node.comparators]
            elif (  # DynamoDB conditions and updates: EmailJob.status.is_in("queued", ...)
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in {"is_in", "set"}
                and _is_state_field(node.func.value)
            ):
                operands = [node.func.value, *node.args]
            else:
                continue
            strings = [s for operand in operands for s in _strings(operand)]
            if check == "known":
                bad = any(s in KNOWN for s in strings)
            else:
                bad = bool(strings) and any(_is_state_field(o) for o in operands)
            if bad and (relative, ast.unparse(node)) not in ALLOWED:
                found.append(f"{relative}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_the_state_sets_are_found() -> None:
    # The scans below pass vacuously if no state set is found: the sets issue #11 named exist.
    names = {states.__name__ for states in STATE_SETS}
    assert {
        "ProfileStatus",
        "ProviderStatus",
        "Role",
        "ClientType",
        "EmailStatus",
        "TokenStatus",
        "GrantStatus",
        "SessionKind",
    } <= names
    assert {"active", "archived", "queued", "dead", "live", "pending", "admin", "minor"} <= KNOWN
    # AccountKind is the account kinds of SessionKind, spelled by its members.
    assert all(isinstance(kind, StrEnum) for kind in get_args(AccountKind))


def test_no_state_is_compared_as_a_bare_string() -> None:
    found = _findings("known")
    assert not found, "name the state's member instead (issue #11):\n" + "\n".join(found)


def test_no_state_field_is_compared_with_a_string() -> None:
    found = _findings("field")
    assert not found, "compare a state with its named member (issue #11):\n" + "\n".join(found)


def test_the_allowed_comparisons_are_still_there() -> None:
    # An allowance whose comparison is gone would hide the next one written there.
    present = {
        (str(path.relative_to(ROOT)), ast.unparse(node))
        for path in SOURCES
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Compare)
    }
    assert present >= ALLOWED


def test_the_request_schemas_accept_exactly_the_states() -> None:
    # Request bodies keep their own Literal strings (pydantic validates and documents them, and
    # what they accept must not change); they must still be the same set as the model's.
    assert set(get_args(practice_schemas.Role)) == set(Role)
    assert set(get_args(common_schemas.ClientType)) == set(ClientType)
    listed = get_args(client_schemas.ListClientsQuery.model_fields["status"].annotation)
    assert set(listed) == {*ProfileStatus, "all"}  # "all": every status (see ALLOWED)


def test_a_state_is_stored_as_its_plain_string(aws: None) -> None:
    # Tx.save with the model's default member (live), then an update setting one (used).
    tx = Tx()
    issued = tokens.issue(tx, "invite", "invite#org_1#cl_1", ttl=tokens.KEEP_AFTER_EXPIRY)
    tx.commit()
    tx = Tx()
    tokens.consume(tx, issued.token)
    tx.commit()
    raw = aws_clients.client("dynamodb").get_item(
        TableName=Token.Meta.table_name, Key={"token_hash": {"S": issued.token.token_hash}}
    )
    assert raw["Item"]["status"] == {"S": "used"}
    read = Token.get(issued.token.token_hash)
    assert type(read.status) is str
    assert read.status == TokenStatus.USED


def test_a_state_is_answered_as_its_plain_string() -> None:
    body = ok({"status": ProfileStatus.ARCHIVED, "counts": {TokenStatus.LIVE: 1}}).to_dict()
    assert json.loads(body["body"]) == {"status": "archived", "counts": {"live": 1}}
    assert body["body"] == json.dumps(
        {"status": "archived", "counts": {"live": 1}}, separators=(",", ":")
    )
