"""Sign-in throttling (R45): failures per submitted email and per source address.

Counted alike whether or not the email has an identity, so the answer never tells. Each key
counts failures in fixed 15-minute windows and the check weighs the previous window by the
part of it still inside the sliding 15 minutes: one BatchGetItem to check, one transaction to
count, whatever the traffic.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from chalicelib import clock, config, ids
from chalicelib.db import Tx
from chalicelib.errors import Throttled
from chalicelib.models.identities import SignInFailures

WINDOW = config.LOGIN_WINDOW_SECONDS


def _keys(scope: str, value: str, window: int, purpose: str = "signin") -> tuple[str, str]:
    base = f"{purpose}#{scope}#{ids.fingerprint(value)}"
    return f"{base}#{window}", f"{base}#{window - 1}"


def check(email: str, source: str, purpose: str = "signin") -> bool:
    """Raise Throttled when either key has failed too often in the last 15 minutes; else say
    whether the email has failures in the current window (for `forgive`). `purpose` keeps
    other public email forms (password reset, passcode requests, R20, R22) in counters of
    their own, with the same limits."""
    now = clock.now().timestamp()
    window, into = divmod(now, WINDOW)
    limits = {
        _keys("email", email, int(window), purpose): config.LOGIN_FAILURES_PER_EMAIL,
        _keys("source", source, int(window), purpose): config.LOGIN_FAILURES_PER_SOURCE,
    }
    counts = {
        item.key: item.failures
        for item in SignInFailures.batch_get([k for pair in limits for k in pair])
    }
    weight = 1 - into / WINDOW
    for (current, previous), limit in limits.items():
        estimate = counts.get(current, 0) + counts.get(previous, 0) * weight
        if estimate >= limit:
            raise Throttled(
                "Too many attempts. Wait a few minutes, then try again."
                if purpose != "signin"
                else "Too many failed sign-ins. Wait a few minutes, or reset your password.",
                retry_after=max(1, math.ceil(WINDOW - into)),
            )
    email_key = next(iter(limits))[0]
    return counts.get(email_key, 0) > 0


def record_failure(email: str, source: str, purpose: str = "signin") -> None:
    now = clock.now().timestamp()
    window = int(now // WINDOW)
    tx = Tx()
    for scope, value in (("email", email), ("source", source)):
        item = SignInFailures(_keys(scope, value, window, purpose)[0])
        tx.update(
            item,
            actions=[
                SignInFailures.failures.add(1),
                SignInFailures.expires_at.set(datetime.fromtimestamp((window + 2) * WINDOW, UTC)),
            ],
        )
    tx.commit()


def forgive(email: str) -> None:
    """A successful sign-in clears the email's current window."""
    window = int(clock.now().timestamp() // WINDOW)
    SignInFailures(_keys("email", email, window)[0]).delete()


def public_action(action: str, source: str, email: str) -> None:
    """Anonymous sign-ups, bookings and purchases (R16, R17), counted per source address and
    per email in fixed windows: one conditional write for both counts; 429 past either limit,
    until the window passes. A flood from one address, or at one person's mailbox, stops."""
    now = clock.now().timestamp()
    window, into = divmod(now, config.PUBLIC_WINDOW_SECONDS)
    expires = datetime.fromtimestamp((window + 2) * config.PUBLIC_WINDOW_SECONDS, UTC)

    def throttled() -> Throttled:
        return Throttled(
            "Too many requests from here in a short time. Wait a few minutes and try again.",
            retry_after=max(1, math.ceil(config.PUBLIC_WINDOW_SECONDS - into)),
        )

    tx = Tx()
    for scope, value, limit in (
        ("source", source, config.PUBLIC_ACTIONS_PER_SOURCE),
        ("email", email, config.PUBLIC_ACTIONS_PER_EMAIL),
    ):
        item = SignInFailures(f"public#{action}#{scope}#{ids.fingerprint(value)}#{int(window)}")
        tx.update(
            item,
            actions=[SignInFailures.failures.add(1), SignInFailures.expires_at.set(expires)],
            condition=SignInFailures.failures.does_not_exist() | (SignInFailures.failures < limit),
            on_conflict=throttled,
        )
    tx.commit()
