"""The name beside the platform's one sending address (R9, R40).

Every practice's email leaves from Portico's own address, so the From name is all a reader
has to tell practices apart: it always says the practice's name and then the platform's
("Evergreen Wellness via Portico"), and nothing a practice writes can make it look like another
sender: no address, no angle brackets or quotes, no line breaks or invisible formatting
characters, no "via Portico" of its own. Names are refused with these where they enter
(`name_problem`) and cleaned again where the From line is made (`from_name`), for what was
stored before.
"""

from __future__ import annotations

import re
import unicodedata

PLATFORM = "Portico"
FROM_NAME_MAX = 64  # of the practice's part; mail clients cut long names anyway

_ADDRESS = re.compile(r"<[^>]*>|\S*@\S*")
_POSING = frozenset('<>"@\\')
_SUFFIX = re.compile(rf"(?:\s+via\s+{PLATFORM})+$", re.IGNORECASE)
_EDGES = " -–—:;,.|/\\"
_EMPTY_BRACKETS = re.compile(r"\(\s*\)|\[\s*\]")


def _invisible(char: str) -> bool:
    """Control, format (bidi overrides, zero widths), separator and unassigned characters."""
    category = unicodedata.category(char)
    return category[0] == "C" or category in {"Zl", "Zp"}


def name_problem(name: str) -> str | None:
    """What keeps `name` from being a practice's name, display name or sender name (it may end
    up beside the shared address), else None. Read as mail clients show it (NFKC: a
    full-width "＠" is an "@")."""
    name = unicodedata.normalize("NFKC", name)
    if any(char in _POSING for char in name):
        return "cannot hold an email address, angle brackets or double quotes."
    if any(_invisible(char) for char in name):
        return "cannot hold line breaks or invisible formatting characters."
    cleaned = _SUFFIX.sub("", name).strip()
    if cleaned != name.strip() or cleaned.casefold() == PLATFORM.casefold():
        return f'cannot claim to be {PLATFORM}: "via {PLATFORM}" is added to every email.'
    return None


def from_name(sender_name: str | None) -> str:
    """The From name of an email: the practice's sender name, cleaned, then "via Portico"; the
    platform's name alone when nothing of the practice's is left (neutral branding, B7)."""
    text = unicodedata.normalize("NFKC", sender_name or "")
    text = "".join(" " if _invisible(char) else char for char in text)
    text = _ADDRESS.sub(" ", text)
    text = "".join(char for char in text if char not in _POSING)
    text = _EMPTY_BRACKETS.sub(" ", text)
    text = " ".join(text.split())
    text = _SUFFIX.sub("", text).strip(_EDGES)
    if text.casefold() == PLATFORM.casefold():
        text = ""
    text = text[:FROM_NAME_MAX].rstrip(_EDGES)
    return f"{text} via {PLATFORM}" if text else PLATFORM
