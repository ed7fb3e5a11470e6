"""R52, R45 against the real local stack: parallel wrong passwords get no more tries than
sequential ones (issue #12: 24 at once were all checked against a limit of 5).

Every attempt waits at a barrier and opens its own connection, so the 24 reach `chalice local`
(threaded) and moto's server together. A 401 is an attempt whose password was checked (Argon2
verified, wrong); a 429 one refused before any check. The figure the test asserts and prints:
at most 5 answered 401, and the right password after them is refused.
"""

from __future__ import annotations

import pytest

from tests.support.concurrency import Call, fresh, tally, together
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e

ATTEMPTS = 24
LIMIT = 5  # R45: failures per submitted email in 15 minutes
PASSWORD = "correct horse battery"


def test_r52_twenty_four_parallel_wrong_passwords_check_at_most_five(stack: Stack) -> None:
    slug = fresh("throttle")
    email = f"admin@{slug}.example"
    body = {
        "name": f"Practice {slug}",
        "slug": slug,
        "admin": {"email": email, "password": PASSWORD, "first_name": "Ada", "last_name": "Li"},
    }
    assert stack.call("POST", "/v1/orgs", body).status_code == 201
    warm = stack.call("POST", "/v1/auth/login", {"email": email, "password": PASSWORD})
    assert warm.status_code == 200, warm.text  # the sign-in path taken once; forgiven

    answers = together(
        stack,
        [
            Call("POST", "/v1/auth/login", {"email": email, "password": f"wrong guess {n}"})
            for n in range(ATTEMPTS)
        ],
    )
    counts = tally(answers)
    checked = counts.get((401, "invalid_credentials"), 0)
    refused = counts.get((429, "throttled"), 0)
    print(
        f"\nR52 figure: {ATTEMPTS} parallel wrong passwords -> {checked} checked (401), "
        f"{refused} refused unchecked (429)"
    )
    assert checked + refused == ATTEMPTS, counts
    assert checked <= LIMIT, counts
    right = stack.call("POST", "/v1/auth/login", {"email": email, "password": PASSWORD})
    assert right.status_code == 429, right.text
