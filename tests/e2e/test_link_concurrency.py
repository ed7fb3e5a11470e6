"""Links and caregiver grants made and removed at once against the local stack (R25–R27, R31).

Each round, a burst of requests (as in test_concurrency.py: own connections, a barrier) creates
links between every ordered pair of four clients, removes the links the round began with, and
removes a caregiver grant twice over (PATCH `portal_access: null` and DELETE of its link). None
may be a 5xx. Afterwards the end state is the one the rules give: every link the routes show
has its summary on both profiles (the client list), no summary names a link that is gone, and
the caregiver's session inside the care receiver's account is refused once its grant is gone.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from tests.support.budget import examples
from tests.support.concurrency import Call, fresh, tally, together
from tests.support.stack import Stack, Visitor, found_in, wait_for_email

pytestmark = pytest.mark.e2e

# Each round a fresh race: one in make test, three in make fuzz (README "How the tests stay fast").
ROUNDS = examples(1, 3)
PASSWORD = "a caregiver's own password"
# What a request may answer in the burst: done, or refused as the rules say (already linked,
# a concurrent change of the same profile, a link already removed).
ALLOWED = {
    (200, None),
    (201, None),
    (204, None),
    (409, "already_linked"),
    (409, "concurrent_change"),
    (404, "link_not_found"),
}


def ok(answer: Any, status: int = 200) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    return answer.json() if answer.text else {}


def caregiver_session(stack: Stack, email: str) -> str:
    """The caregiver accepts the grant's invite page and enters the care receiver's account."""
    (invite,) = wait_for_email(stack, email, "caregiver_invite")
    path = "/" + found_in(r"https?://[^/\s]+/(caregiver-invite/[\w-]+)", invite["text"])
    browser = Visitor()
    page = browser.get(stack.base_url + path, timeout=30)
    token = found_in(r'name="csrf_token" value="([^"]+)"', page.text)
    accepted = browser.post(
        stack.base_url + path,
        data={"csrf_token": token, "password": PASSWORD, "confirm": PASSWORD},
        allow_redirects=False,
        timeout=30,
    )
    assert accepted.status_code == 303, accepted.text
    login = ok(stack.call("POST", "/v1/auth/login", {"email": email, "password": PASSWORD}))
    (care,) = [a for a in login["accounts"] if a["kind"] == "caregiver"]
    switched = stack.call(
        "POST", "/v1/auth/switch", {"account_id": care["account_id"]}, login["token"]
    )
    return ok(switched)["token"]


def test_links_and_grants_made_and_removed_at_once_end_as_the_rules_say(stack: Stack) -> None:
    """R25–R27, R31: concurrent link creates, link removals and grant removals between the same
    clients leave every link on both profiles and in the client list, no summary of a removed
    link, and a removed grant's caregiver session refused (401); nothing answers 5xx."""
    slug = fresh("links")
    made = ok(
        stack.call(
            "POST",
            "/v1/orgs",
            {
                "name": "Links Clinic",
                "slug": slug,
                "plan": "plus",
                "admin": {
                    "email": f"admin@{slug}.example",
                    "password": PASSWORD,
                    "first_name": "Ada",
                    "last_name": "Admin",
                },
            },
        ),
        201,
    )
    org, admin = made["org"]["id"], made["token"]
    ok(stack.call("PATCH", f"/v1/orgs/{org}", {"settings": {"caregiver_access": True}}, admin))
    base = f"/v1/orgs/{org}/clients"

    def add(first: str) -> str:
        body = {
            "first_name": first,
            "last_name": "Okoro",
            "email": f"{fresh(first.lower())}@{slug}.example",
            "send_invite": False,
        }
        return ok(stack.call("POST", base, body, admin), 201)["client"]["id"]

    family = [add(name) for name in ("Sam", "Lee", "Kai", "Ana")]

    def link(origin: str, target: str, **extra: Any) -> Any:
        body = {"client_id": target, "relationship": "family_member", **extra}
        return stack.call("POST", f"{base}/{origin}/links", body, admin)

    for round_ in range(ROUNDS):
        # The round begins with two links, and a grant of Sam's account to a new caregiver.
        first = [ok(link(family[0], family[1]), 201), ok(link(family[2], family[3]), 201)]
        email = f"{fresh('carer')}@{slug}.example"
        body = {"first_name": "Jo", "last_name": "Okoro", "email": email, "send_invite": False}
        carer = ok(stack.call("POST", base, body, admin), 201)["client"]["id"]
        grant = ok(link(family[0], carer, notify=True, portal_access={"acknowledged": True}), 201)[
            "link"
        ]["id"]
        inside = caregiver_session(stack, email)
        assert stack.call("GET", "/v1/portal/profile", token=inside).status_code == 200

        grant_path = f"{base}/{family[0]}/links/{grant}"
        calls = [
            Call(
                "POST",
                f"{base}/{a}/links",
                {"client_id": b, "relationship": "spouse"},
                admin,
            )
            for a, b in itertools.permutations(family, 2)
        ]
        calls += [
            Call(
                "DELETE",
                f"{base}/{m['link']['origin_client_id']}/links/{m['link']['id']}",
                None,
                admin,
            )
            for m in first
        ] * 2
        calls += [
            Call("PATCH", grant_path, {"portal_access": None}, admin),
            Call("DELETE", grant_path, None, admin),
        ]
        answers = together(stack, calls)
        counts = tally(answers)
        assert set(counts) <= ALLOWED, (round_, counts)

        # R26: the links the routes show, seen from each side, equal the profiles' summaries.
        every = [*family, carer]
        routed: dict[str, set[tuple[str, str, str]]] = {}
        for client in every:
            links = ok(stack.call("GET", f"{base}/{client}/links", token=admin))["links"]
            routed[client] = {
                (
                    x["id"],
                    x["side"],
                    x["linked_client_id" if x["side"] == "origin" else "origin_client_id"],
                )
                for x in links
            }
        listed = ok(stack.call("GET", f"{base}?status=all&limit=100", token=admin))["clients"]
        summaries = {
            c["id"]: {(x["link_id"], x["side"], x["client_id"]) for x in c["links"]}
            for c in listed
            if c["id"] in every
        }
        assert summaries == routed, round_
        for client, links in routed.items():  # a link is on both of its profiles
            for link_id, side, other in links:
                mirror = "linked" if side == "origin" else "origin"
                assert (link_id, mirror, client) in routed[other], (round_, link_id)
        # The round's first links were removed (or not) as their answers say.
        removed = {
            c.path.rsplit("/", 1)[1] for c, a in zip(calls, answers, strict=True) if a.status == 204
        }
        for m in first:
            gone = m["link"]["id"] in removed
            present = any(m["link"]["id"] == x[0] for x in routed[family[0]] | routed[family[2]])
            assert present is not gone, (round_, m["link"]["id"])

        # R31: the grant is gone if either removal succeeded; its session is refused at once.
        grant_removed = any(
            c.path == grant_path and a.status in (200, 204)
            for c, a in zip(calls, answers, strict=True)
        )
        status = stack.call("GET", "/v1/portal/profile", token=inside).status_code
        assert status == (401 if grant_removed else 200), (round_, status)
        if not grant_removed:  # both lost their race: end it now, for the next round
            ok(stack.call("DELETE", grant_path, token=admin), 204)
            assert stack.call("GET", "/v1/portal/profile", token=inside).status_code == 401

        # Back to no links between the four, for the next round.
        for client in family:
            for link_id, side, _ in routed[client]:
                if side == "origin":
                    stack.call("DELETE", f"{base}/{client}/links/{link_id}", token=admin)
