"""Who is signed in where: the signed-in answer (a sign-in, a switch, a passcode, /v1/me)."""

from __future__ import annotations

from typing import Any

from chalicelib.services.identity.accounts import view as account_view
from chalicelib.services.identity.auth import SignedIn


def signed_in_view(result: SignedIn) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "account": account_view(result.account, result.orgs),
        "accounts": [account_view(a, result.orgs) for a in result.accounts],
    }
    if result.token:
        shown["token"] = result.token
    return shown
