"""What every request body shares: the strict, closed Body base, and the names, emails, ids,
text, phones, moments and scopes the areas' bodies are built of (API.md conventions).

Bodies are strict (no "1" for 1) and closed (an unknown field is an error, so a typo never
silently does nothing). Limits: names 100 characters, free text 10,000.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from types import ModuleType
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
)

from chalicelib.rules import passwords
from chalicelib.rules.people import name_problem
from chalicelib.rules.settings import SCOPES, Scope

NAME_MAX = 100
TEXT_MAX = 10_000


def _a_name(value: str) -> str:
    problem = name_problem(value)
    if problem:
        raise ValueError(f"This name {problem}")
    return value


# Names are one line of printable text (no NUL, newlines, escapes) that no spreadsheet runs as
# a formula (R18); every body's names are this type, and the import's rows read the same rule.
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_MAX),
    AfterValidator(_a_name),
]
Text = Annotated[str, StringConstraints(max_length=TEXT_MAX)]
Id = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Password = Annotated[
    str, StringConstraints(min_length=passwords.MIN_LENGTH, max_length=passwords.MAX_LENGTH)
]
Phone = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9][0-9 ().-]{2,30}$")
]
ClientType = Literal["adult", "minor"]


@cache
def _email_validator() -> ModuleType:
    # email-validator compiles its RFC regular expressions at import (~40 ms): loaded by the
    # first address checked, not by every cold start (issue #17).
    import email_validator  # noqa: PLC0415

    return email_validator


def normalize_email(value: str) -> str:
    """The one form an email is stored and compared in (R1): syntax-checked, lower-cased."""
    if len(value) > 254:
        raise ValueError("An email address has at most 254 characters.")
    checker = _email_validator()
    try:
        checked = checker.validate_email(value.strip(), check_deliverability=False)
    except checker.EmailNotValidError as exc:
        raise ValueError(f"Not a valid email address: {exc}") from None
    return checked.normalized.lower()


Email = Annotated[str, AfterValidator(normalize_email)]


def _this_century(value: datetime) -> datetime:
    """A moment kept in UTC, between 2000 and 2100: what Portico schedules and stores."""
    problem = "A moment between 2000 and 2100, with its UTC offset."
    try:
        value = value.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 shifted past the calendar's ends
        raise ValueError(problem) from None
    if not 2000 <= value.year < 2100:
        raise ValueError(problem)
    return value


def _to_come(value: datetime) -> datetime:
    if value <= datetime.now(UTC):
        raise ValueError("A moment in the future.")
    return value


Moment = Annotated[AwareDatetime, AfterValidator(_this_century)]
FutureMoment = Annotated[Moment, AfterValidator(_to_come)]


def _each_once(values: list[str]) -> list[str]:
    if len(set(values)) != len(values):
        raise ValueError("Name each scope once.")
    return values


# R33, B4: the portal features a caregiver's access is limited to.
Scopes = Annotated[list[Scope], Field(max_length=len(SCOPES)), AfterValidator(_each_once)]


class Body(BaseModel):
    # defer_build: a body's validator is built on its route's first request, not at import
    # (issue #17: a cold start pays for the routes it answers, not for every schema).
    model_config = ConfigDict(
        extra="forbid", strict=True, str_max_length=TEXT_MAX, defer_build=True
    )


# A page of a list (?limit=&cursor=).
class PageQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    limit: Annotated[int, Field(ge=1, le=100)] = 50
    cursor: Annotated[str, StringConstraints(max_length=2000)] | None = None
