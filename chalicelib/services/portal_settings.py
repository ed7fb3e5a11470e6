"""Client Portal settings (R35, R37): organization default, group, client; the most specific
value that is set wins, and with none set a feature is on and the login is open."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.schemas import FEATURES


@dataclass(frozen=True)
class Effective:
    features: dict[str, bool]
    login_enabled: bool

    def allows(self, feature: str) -> bool:
        return self.features[feature]


def effective(*levels: dict[str, Any] | None) -> Effective:
    """Resolve settings given from the least specific level to the most (org, group, client).

    Each level is `{"features": {name: bool|None}, "login_enabled": bool|None}`, partial."""
    features = dict.fromkeys(FEATURES, True)
    login_enabled = True
    for level in levels:
        if not level:
            continue
        for name, value in (level.get("features") or {}).items():
            if value is not None:
                features[name] = value
        if level.get("login_enabled") is not None:
            login_enabled = level["login_enabled"]
    return Effective(features, login_enabled)
