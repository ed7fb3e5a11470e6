"""A person's name (R18) and age, and whether they are a minor (R10, B4)."""

from __future__ import annotations

import re
from datetime import date

from chalicelib.models.profiles import ClientType

AGE_OF_MAJORITY = 18

# R18: a value starting with one of these is run as a formula by spreadsheets.
FORMULA_STARTS = ("=", "+", "-", "@")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def name_problem(name: str) -> str | None:
    """R18: what keeps `name` (trimmed) from being a name, else None. Names reach exports and
    spreadsheets, so one that a spreadsheet would run as a formula is refused wherever it
    enters (every request body's names, the CSV import), as is one that is not one line."""
    if name.startswith(FORMULA_STARTS):
        return f"starts with {name[0]}, which spreadsheets run as a formula; remove it."
    if _CONTROL.search(name):
        return "holds control characters (a line break, a tab); remove them."
    return None


def age_on(born: date, today: date) -> int:
    """Whole years of age on `today`."""
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def client_type(born: date | None, today: date) -> ClientType:
    """R10: a client whose date of birth makes them under 18 is a minor; none given, an adult."""
    if born is None:
        return ClientType.ADULT
    return ClientType.MINOR if age_on(born, today) < AGE_OF_MAJORITY else ClientType.ADULT
