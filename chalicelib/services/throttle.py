"""Throttles (R45, R17, R20's public side, R22, R51, R52): count first, check second.

Every public form that could be used to guess (a password, a code) or to flood a mailbox counts
the attempt before it looks anything up or verifies anything: one transaction adds 1 to the
counter of the submitted email and to that of the source address, each under the condition
that it is still below its limit. Parallel requests therefore get no more tries than sequential
ones (R52): DynamoDB applies the conditional ADDs one at a time, and the one past the limit
fails whole (429), before any password is checked. A success gives its attempt back
(`Attempt.succeeded`, in the success's own transaction) where the rule forgives.

Counters live in fixed windows ("429 until the window passes", R45) and are keyed by an HMAC of
the email or address with a secret (config.THROTTLE_SECRET), so the table never holds a
fingerprint that a guess could be checked against offline. Counted alike whether or not the
email has a login, so the answer never tells (R51).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from chalicelib import clock, config, ids
from chalicelib.db import Tx
from chalicelib.errors import Conflict, Throttled
from chalicelib.models.identities import SignInFailures


@dataclass(frozen=True)
class Limit:
    """One throttle: attempts allowed per email and per source address in one window."""

    name: str
    per_email: int
    per_source: int
    window_seconds: int
    message: str
    # R45: a successful sign-in forgives the email's failures and gives the source its try back.
    forgiving: bool = False


_AGAIN = "Too many attempts. Wait a few minutes, then try again."
_PUBLIC = "Too many requests from here in a short time. Wait a few minutes and try again."

SIGN_IN = Limit(
    "signin",
    config.LOGIN_FAILURES_PER_EMAIL,
    config.LOGIN_FAILURES_PER_SOURCE,
    config.LOGIN_WINDOW_SECONDS,
    "Too many failed sign-ins. Wait a few minutes, or reset your password.",
    forgiving=True,
)
# R20, R22: asking for a reset or a passcode sends an email; every request counts.
RESET_REQUEST = Limit(
    "reset",
    config.LOGIN_FAILURES_PER_EMAIL,
    config.LOGIN_FAILURES_PER_SOURCE,
    config.LOGIN_WINDOW_SECONDS,
    _AGAIN,
)
PASSCODE_REQUEST = Limit(
    "otp",
    config.LOGIN_FAILURES_PER_EMAIL,
    config.LOGIN_FAILURES_PER_SOURCE,
    config.LOGIN_WINDOW_SECONDS,
    _AGAIN,
)


def public(action: str) -> Limit:
    """R16, R17: anonymous sign-ups, bookings and purchases: a flood from one address, or at
    one person's mailbox, stops."""
    return Limit(
        f"public#{action}",
        config.PUBLIC_ACTIONS_PER_EMAIL,
        config.PUBLIC_ACTIONS_PER_SOURCE,
        config.PUBLIC_WINDOW_SECONDS,
        _PUBLIC,
    )


JOIN = public("join")
BOOKING = public("booking")
PURCHASE = public("purchase")


@dataclass(frozen=True)
class Attempt:
    """An attempt counted against its limits: the counters it moved, to refund on success."""

    limits: tuple[Limit, ...]
    email_keys: tuple[str, ...]
    source_keys: tuple[str, ...]

    def succeeded(self, tx: Tx) -> None:
        """Add the refund to the success's own transaction (R45), for the forgiving limits: the
        email's failures in this window are forgiven, and the source gets this attempt back
        (a clinic's many clients behind one address are not throttled for signing in)."""
        for limit, email_key, source_key in zip(
            self.limits, self.email_keys, self.source_keys, strict=True
        ):
            if limit.forgiving:
                tx.delete(SignInFailures(email_key))
                tx.update(SignInFailures(source_key), [SignInFailures.failures.add(-1)])


def attempt(
    email: str, source: str, *limits: Limit, also: Callable[[Tx], object] | None = None
) -> Attempt:
    """Count one attempt of `email` from `source` against each limit, atomically, before the
    caller looks anything up or checks anything (R51, R52); 429 past any of them.

    One transaction for every counter: all move, or none does, with what `also` adds (a
    request's email job: counted and queued together, or neither). A transaction that keeps
    clashing with others on the same counters (a flood of parallel attempts) is refused as
    throttled too: it never reaches the check."""
    now = clock.now().timestamp()
    tx = Tx()
    email_keys: list[str] = []
    source_keys: list[str] = []
    retry_after = 1
    for limit in limits:
        window, into = divmod(now, limit.window_seconds)
        expires = datetime.fromtimestamp((window + 2) * limit.window_seconds, UTC)
        wait = max(1, math.ceil(limit.window_seconds - into))
        retry_after = max(retry_after, wait)

        def refused(limit: Limit = limit, wait: int = wait) -> Throttled:
            return Throttled(limit.message, retry_after=wait)

        for scope, value, allowed, keys in (
            ("source", source, limit.per_source, source_keys),
            ("email", email, limit.per_email, email_keys),
        ):
            key = _key(limit, scope, value, int(window))
            keys.append(key)
            tx.update(
                SignInFailures(key),
                [SignInFailures.failures.add(1), SignInFailures.expires_at.set(expires)],
                condition=SignInFailures.failures.does_not_exist()
                | (SignInFailures.failures < allowed),
                on_conflict=refused,
            )
    if also is not None:
        also(tx)
    try:
        tx.commit()
    except Conflict as clash:  # only a transaction conflict is left: the conditions raise 429
        raise Throttled(limits[0].message, retry_after=retry_after) from clash
    return Attempt(tuple(limits), tuple(email_keys), tuple(source_keys))


def _key(limit: Limit, scope: str, value: str, window: int) -> str:
    return f"{limit.name}#{scope}#{ids.keyed_fingerprint(value)}#{window}"
