"""A person's age and whether they are a minor, from a date of birth (R10, B4)."""

from __future__ import annotations

from datetime import date

from chalicelib.models.profiles import ClientType

AGE_OF_MAJORITY = 18


def age_on(born: date, today: date) -> int:
    """Whole years of age on `today`."""
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def client_type(born: date | None, today: date) -> ClientType:
    """R10: a client whose date of birth makes them under 18 is a minor; none given, an adult."""
    if born is None:
        return ClientType.ADULT
    return ClientType.MINOR if age_on(born, today) < AGE_OF_MAJORITY else ClientType.ADULT
