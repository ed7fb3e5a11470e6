"""A person's name (R18) and age, and whether they are a minor (R10, B4); and the form names
and emails are searched in (R55)."""

from __future__ import annotations

import re
import unicodedata
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


# Finding a client (R55) ------------------------------------------------------------------------

# How many first characters of a term are indexed (R55): a client is filed under each start of
# its first name, last name and email up to this length. A longer query reads the clients filed
# under its first SEARCH_PREFIX_MAX characters and keeps those whose whole term it starts.
# (More would file each client under more entries, each written with every change.)
SEARCH_PREFIX_MAX = 10
# Between the parts of a name key: below every character a name may hold (names have no control
# characters), so "Van" sorts before "Van Der" and both before "Vance".
_KEY_SEPARATOR = "\x1f"


def search_form(text: str) -> str:
    """R55: the one form names, emails and queries are compared in, so that "émile", "Emile"
    and "EMILE" are found alike: compatibility-decomposed (NFKD), combining marks dropped,
    case-folded, runs of spaces made one."""
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(bare.split())


def search_terms(first_name: str, last_name: str, email: str | None) -> list[str]:
    """R55: what a query may start: the first name, the last name, the email (each once)."""
    terms = [search_form(value) for value in (first_name, last_name, email or "")]
    return list(dict.fromkeys(term for term in terms if term))


def search_prefixes(terms: list[str]) -> set[str]:
    """Each start of each term, up to SEARCH_PREFIX_MAX characters: where a client is filed."""
    return {
        term[:length]
        for term in terms
        for length in range(1, min(len(term), SEARCH_PREFIX_MAX) + 1)
    }


def found_by(query: str, terms: list[str]) -> bool:
    """R55: a query (in search form) finds a client when it starts one of the client's terms."""
    return any(term.startswith(query) for term in terms)


def name_key(first_name: str, last_name: str, client_id: str) -> str:
    """Name order (R55): last name, then first name, in search form, then the id (unique)."""
    return _KEY_SEPARATOR.join((search_form(last_name), search_form(first_name), client_id))


def client_of(key: str) -> str:
    """The client a name key is of."""
    return key.rpartition(_KEY_SEPARATOR)[2]
