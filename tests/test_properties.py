"""Property tests (Hypothesis) of rules with state, each against a model small enough to read.

- R35, R37: portal settings resolve to the most specific level that is set, else on.
- R13, B1: tokens under any sequence of issue, consume, revoke and the passing of time: at most
  one live token per subject, a token consumed once is never consumable again, and every token's
  status is the one the model says (live, used, superseded, revoked, expired).

Hypothesis keeps no example database (`database=None`): nothing is written to the work tree.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)

from chalicelib import clock
from chalicelib.db import Tx
from chalicelib.errors import Conflict
from chalicelib.rules.settings import FEATURES, effective
from chalicelib.services import tokens
from tests.support import moto
from tests.support.budget import examples
from tests.support.records import token_of

# Portal settings (R35, R37) --------------------------------------------------------------------

maybe = st.sampled_from([True, False, None])
level = st.none() | st.fixed_dictionaries(
    {},
    optional={
        "features": st.dictionaries(st.sampled_from(FEATURES), maybe, max_size=len(FEATURES)),
        "login_enabled": maybe,
    },
)


def most_specific(levels: list[dict[str, Any] | None], read: Any) -> bool:
    """The model: look from the client's level down to the organization's; on if none is set."""
    for settings_ in reversed(levels):
        value = read(settings_ or {})
        if value is not None:
            return value
    return True


@given(levels=st.lists(level, min_size=3, max_size=3))
@settings(max_examples=300, database=None)
def test_each_feature_is_the_most_specific_level_that_sets_it_else_on(levels: list) -> None:
    # R35: organization default, group, client; the most specific one set wins; none set: on
    resolved = effective(*levels)
    for feature in FEATURES:
        expected = most_specific(levels, lambda s, f=feature: (s.get("features") or {}).get(f))
        assert resolved.features[feature] is expected, feature
        assert resolved.allows(feature) is expected
    # R37: the portal login resolves the same way
    assert resolved.login_enabled is most_specific(levels, lambda s: s.get("login_enabled"))


@given(levels=st.lists(level, min_size=3, max_size=3), other=level)
@settings(max_examples=200, database=None)
def test_a_less_specific_level_never_overrides_a_value_set_below_it(levels, other) -> None:
    # R35: whatever the organization says, a feature the client sets stays the client's
    client = levels[2] or {}
    before = effective(*levels)
    after = effective(other, levels[1], levels[2])
    for feature, value in (client.get("features") or {}).items():
        if value is not None:
            assert before.features[feature] is after.features[feature] is value


# Tokens (R13, B1) ---------------------------------------------------------------------------------

SUBJECTS = ("invite#org_1#cl_1", "invite#org_1#cl_2")
START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


class TokenRules(RuleBasedStateMachine):
    """The real tokens service over moto, driven against a model of what each token is."""

    secrets = Bundle("secrets")

    def __init__(self) -> None:
        super().__init__()
        moto.wipe()  # each run starts with no tokens (the session's moto, `aws` below)
        self.now = START
        self.patch = pytest.MonkeyPatch()
        self.patch.setattr(clock, "now", lambda: self.now)
        # model: secret -> [subject, stored status, expires_at]
        self.model: dict[str, list[Any]] = {}

    def teardown(self) -> None:
        self.patch.undo()

    def status(self, secret: str) -> str:
        _, stored, expires_at = self.model[secret]
        return "expired" if stored == "live" and expires_at <= self.now else stored

    def live_of(self, subject: str) -> list[str]:
        return [s for s, m in self.model.items() if m[0] == subject and self.status(s) == "live"]

    @rule(
        target=secrets,
        subject=st.sampled_from(SUBJECTS),
        ttl=st.sampled_from([timedelta(minutes=10), timedelta(days=30)]),
    )
    def issue(self, subject: str, ttl: timedelta) -> str:
        tx = Tx()
        issued = tokens.issue(tx, "invite", subject, ttl=ttl)
        tx.commit()
        for older in self.live_of(subject):  # R13: the newer link kills the older one
            self.model[older][1] = "superseded"
        self.model[issued.secret] = [subject, "live", self.now + ttl]
        return issued.secret

    @rule(secret=secrets)
    def consume(self, secret: str) -> None:
        consumable = self.status(secret) == "live"
        token = tokens.find(secret, "invite")
        assert token is not None
        tx = Tx()
        tokens.consume(tx, token)
        if consumable:
            tx.commit()
            self.model[secret][1] = "used"
        else:  # used, superseded, revoked or expired: refused, whatever tab tries
            with pytest.raises(Conflict):
                tx.commit()

    @rule(secret=secrets)
    def consume_twice(self, secret: str) -> None:
        # Two tabs with one link: at most one succeeds, and never after the first success.
        successes = 0
        for _ in range(2):
            token = token_of(secret, "invite")
            tx = Tx()
            tokens.consume(tx, token)
            try:
                tx.commit()
                successes += 1
            except Conflict:
                pass
        assert successes == (1 if self.status(secret) == "live" else 0)
        if successes:
            self.model[secret][1] = "used"

    @rule(subject=st.sampled_from(SUBJECTS))
    def revoke(self, subject: str) -> None:
        tx = Tx()
        revoked = tokens.revoke(tx, subject)
        tx.commit()
        live = self.live_of(subject)
        assert (revoked is not None) == bool(live)
        for secret in live:
            self.model[secret][1] = "revoked"

    @rule(minutes=st.sampled_from([1, 11, 60 * 24 * 31]))
    def time_passes(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)

    @invariant()
    def at_most_one_live_token_per_subject_and_the_service_names_it(self) -> None:
        for subject in SUBJECTS:
            live = self.live_of(subject)
            assert len(live) <= 1
            found = tokens.live(subject)
            expected = token_of(live[0], "invite").token_hash if live else None
            assert (found.token_hash if found else None) == expected
            stored = [t for t in tokens.history(subject) if tokens.status_of(t) == "live"]
            assert len(stored) == len(live)

    @invariant()
    def every_token_has_the_models_status(self) -> None:
        for secret in self.model:
            token = tokens.find(secret, "invite")
            assert token is not None
            assert tokens.status_of(token) == self.status(secret), secret


def test_tokens_follow_their_model_under_any_sequence_of_operations(aws: None) -> None:
    # R13, B1: issue, consume, revoke and time passing, in any order, against the model
    run_state_machine_as_test(
        TokenRules,
        settings=settings(
            max_examples=examples(10, 100),
            stateful_step_count=12,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
