"""Property test (Hypothesis) of who receives an email, or why nobody does (R11, R29, R36–R38,
R43, R54), against a model small enough to read.

Each example builds a random state through the API (portal settings at the organization,
group and client levels, archive, a client with or without email, contacts and linked clients
with or without `notify`, an address SES reported bouncing), queues one job of each client
email kind (and of one notification of the catalogue, drawn) with `outbox.queue`
(the seam every service uses) and runs the real worker (`delivery.deliver`, then the copies it
adds) with a recording sender; optionally the client changes between the client's email and
its copies. The model says who gets it, or the one suppression reason. Examples share one
practice, each with fresh clients; the organization and group levels are rewritten each time.

Hypothesis keeps no example database (`database=None`): nothing is written to the work tree.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib import sealing
from chalicelib.db import Tx
from chalicelib.models.emails import EmailJob
from chalicelib.rules.email_kinds import KINDS
from chalicelib.rules.notifications import NOTIFICATIONS
from chalicelib.rules.settings import FEATURES
from chalicelib.services import outbox, tokens
from chalicelib.services.email import delivery, suppressions
from tests.support.api import Api, Practice
from tests.support.budget import examples
from tests.support.email import RecordingSender

# Kinds addressed to a client profile (the provider's and the identity's are not), and any kind
# that belongs to a portal feature, so that a new one joins by itself. The notifications of the
# catalogue (R54) are many and alike: each example takes one of them, drawn, so that the test's
# running time stays that of one more kind while every kind is reached across the examples.
CLIENT_KINDS = sorted(
    {
        "appointment_confirmation",
        "appointment_reminder",
        "caregiver_invite",
        "caregiver_notice",
        "caregiver_access_ending",
        "invite",
    }
    | {name for name, kind in KINDS.items() if kind.feature and name not in NOTIFICATIONS}
)

maybe = st.sampled_from([True, False, None])
# A level as staff PUT it: each feature and the login on, off or not set (null), or left out.
level = st.fixed_dictionaries(
    {},
    optional={
        "features": st.fixed_dictionaries({}, optional=dict.fromkeys(FEATURES, maybe)),
        "login_enabled": maybe,
    },
)
# Mostly the ordinary case, so that the rules behind it (settings, copies) are reached often.
mostly_false = st.sampled_from([False, False, False, True])
mostly_true = st.sampled_from([True, True, True, False])


@dataclass(frozen=True)
class Contact:
    has_email: bool
    notify: bool


@dataclass(frozen=True)
class Linked:
    """A client linked from ours (the link made on our client), or to ours (`reverse`: made on
    the other client, so its copy flag is about the other's emails)."""

    notify: bool
    archived: bool
    has_email: bool
    reverse: bool


@dataclass(frozen=True)
class State:
    org: dict[str, Any]
    group: dict[str, Any] | None  # None: the client is in no group
    client: dict[str, Any]
    archived: bool
    has_email: bool
    contacts: tuple[Contact, ...]
    linked: tuple[Linked, ...]
    later: str | None  # a change between the client's emails and their copies
    notification: str  # the kind of the catalogue this example sends too (R54)
    bounced: bool  # SES reported the client's address bouncing before (R54)


states = st.builds(
    State,
    org=level,
    group=st.none() | level,
    client=level,
    archived=mostly_false,
    has_email=mostly_true,
    contacts=st.lists(st.builds(Contact, mostly_true, st.booleans()), max_size=2).map(tuple),
    linked=st.lists(
        st.builds(Linked, st.booleans(), mostly_false, mostly_true, mostly_false), max_size=2
    ).map(tuple),
    later=st.sampled_from([None, "archive", "shut_login", "feature_off"]),
    notification=st.sampled_from(sorted(NOTIFICATIONS)),
    bounced=mostly_false,
)


# The model --------------------------------------------------------------------------------


def most_specific(levels: list[dict[str, Any] | None], read: Any) -> bool:
    """R35: the client's level, else the group's, else the organization's, else on."""
    for found in reversed(levels):
        value = read(found or {})
        if value is not None:
            return value
    return True


def client_decision(state: State, kind: str, client: dict[str, Any], archived: bool) -> str | None:
    """Why the client's email is suppressed (the first that applies), or None: it is sent."""
    if archived:
        return "archived"  # R38: an archived profile gets no emails
    if not state.has_email:
        return "no_email"  # R11
    levels = [state.org, state.group, client]
    if not most_specific(levels, lambda s: s.get("login_enabled")):
        return "login_shut"  # R37
    feature = KINDS[kind].feature
    if feature and not most_specific(levels, lambda s: (s.get("features") or {}).get(feature)):
        return "feature_off"  # R36: only the feature the email belongs to
    if state.bounced:
        return "bounced"  # R54: the address bounced, for every email that would have gone
    return None


def after_change(state: State) -> tuple[dict[str, Any], bool]:
    """The client's level and archive after `later`."""
    client, archived = dict(state.client), state.archived
    if state.later == "archive":
        archived = True
    elif state.later == "shut_login":
        client["login_enabled"] = False
    elif state.later == "feature_off":
        client["features"] = {**(client.get("features") or {}), "appointments": False}
    return client, archived


def copy_holders(state: State, kind: str, emails: Emails) -> set[str]:
    """R29: contacts with an email and `notify`; clients linked from ours with `notify`, active
    and with an email. A link made on the other client sends ours nothing."""
    if not KINDS[kind].copies:
        return set()
    found = {emails.contact(n) for n, c in enumerate(state.contacts) if c.has_email and c.notify}
    found |= {
        emails.linked(n)
        for n, x in enumerate(state.linked)
        if x.notify and not x.archived and x.has_email and not x.reverse
    }
    return found


# Driving the real app -----------------------------------------------------------------------

_numbers = itertools.count()


@dataclass(frozen=True)
class Emails:
    """The addresses of one example, fresh each time (R12: one active client per email)."""

    n: int

    def client(self) -> str:
        return f"client-{self.n}@example.com"

    def contact(self, index: int) -> str:
        return f"contact-{self.n}-{index}@example.com"

    def linked(self, index: int) -> str:
        return f"linked-{self.n}-{index}@example.com"


@dataclass
class World:
    api: Api
    practice: Practice
    group_id: str

    def call(self, method: str, path: str, body: Any = None) -> Any:
        answer = self.api.call(method, path, body, self.practice.admin_token)
        assert answer.status < 300, (method, path, answer.body)
        return answer.body

    def client(self, email: str | None, group: bool = False) -> str:
        body = {"first_name": "Sam", "last_name": "Rivera", "email": email, "send_invite": False}
        if group:
            body["group_id"] = self.group_id
        return self.call("POST", f"/v1/orgs/{self.practice.id}/clients", body)["client"]["id"]

    def archive(self, client_id: str) -> None:
        self.call("POST", f"/v1/orgs/{self.practice.id}/clients/{client_id}/archive")

    def put_client_level(self, client_id: str, client: dict[str, Any]) -> None:
        path = f"/v1/orgs/{self.practice.id}/clients/{client_id}/portal-settings"
        self.call("PUT", path, client)


@pytest.fixture
def world(api: Api, practice: Practice) -> World:
    group = api.post(f"/v1/orgs/{practice.id}/groups", {"name": "Family"}, practice.admin_token)
    assert group.status == 201, group.body
    return World(api, practice, group.body["group"]["id"])


def build(world: World, state: State, emails: Emails) -> str:
    """The state through the API; returns the client's id."""
    org_id = world.practice.id
    world.call("PUT", f"/v1/orgs/{org_id}/portal-settings", state.org)
    if state.group is not None:
        world.call(
            "PATCH", f"/v1/orgs/{org_id}/groups/{world.group_id}", {"portal_settings": state.group}
        )
    client_id = world.client(emails.client() if state.has_email else None, state.group is not None)
    world.put_client_level(client_id, state.client)
    for n, contact in enumerate(state.contacts):
        world.call(
            "POST",
            f"/v1/orgs/{org_id}/clients/{client_id}/contacts",
            {
                "first_name": "Ana",
                "last_name": "Rivera",
                "email": emails.contact(n) if contact.has_email else None,
                "relationship": "parent",
                "notify": contact.notify,
            },
        )
    for n, linked in enumerate(state.linked):
        other = world.client(emails.linked(n) if linked.has_email else None)
        origin, target = (other, client_id) if linked.reverse else (client_id, other)
        world.call(
            "POST",
            f"/v1/orgs/{org_id}/clients/{origin}/links",
            {"client_id": target, "relationship": "parent", "notify": linked.notify},
        )
        if linked.archived:
            world.archive(other)
    if state.archived:
        world.archive(client_id)
    if state.bounced:
        suppressions.mark(emails.client(), "bounced", None, None)  # as SES's feedback does
    return client_id


def queue_job(org_id: str, client_id: str, kind: str, to: str | None) -> str:
    """One job of `kind` for the client, as a service queues it; an email that carries a link
    carries a live one (its death is R43's other reason, tested with invites)."""
    context = dict(KINDS[kind].sample)
    tx = Tx()
    secret = None
    if sealed := KINDS[kind].sealed:
        # A subject per kind: two link-carrying kinds must not supersede each other's token.
        issued = tokens.issue(
            tx, "invite", f"{kind}:{org_id}:{client_id}", ttl=timedelta(days=1), org_id=org_id
        )
        secret = sealing.seal(context.pop(sealed), issued.token.token_hash)  # R53
    job = outbox.queue(
        tx, org_id=org_id, kind=kind, client_id=client_id, to=to, context=context, secret=secret
    )
    tx.commit()
    return job.job_id


@given(state=states)
@settings(
    max_examples=examples(10, 200),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_r29_r36_r37_r38_r43_the_worker_sends_to_whom_the_rules_say_or_says_why_not(
    world: World, state: State
) -> None:
    """R11, R29, R36–R38, R43, R54: for any settings, archive, email, bounced address and copy
    holders, each kind of client email (a notification of the catalogue among them) is sent
    to the client or suppressed with the first reason that applies (archived, no email, login
    shut, its own feature off, the address bounced); copies go to the holders with
    `notify` exactly when the client's email goes, and a client suppressed by the time a copy
    is delivered suppresses the copy with the client's reason."""
    emails = Emails(next(_numbers))
    org_id = world.practice.id
    client_id = build(world, state, emails)
    to = emails.client() if state.has_email else None
    kinds = [*CLIENT_KINDS, state.notification]
    jobs = {kind: queue_job(org_id, client_id, kind, to) for kind in kinds}
    sender = RecordingSender()

    for kind, job_id in jobs.items():
        sender.sent.clear()
        delivery.deliver(job_id, sender)
        reason = client_decision(state, kind, state.client, state.archived)
        parent = EmailJob.get(job_id)
        expected = ("sent" if reason is None else "suppressed", reason)
        assert (parent.status, parent.reason) == expected, kind
        assert [m["to"] for m in sender.sent] == ([] if reason else [emails.client()]), kind

    sent_kinds = [
        k for k in jobs if client_decision(state, k, state.client, state.archived) is None
    ]
    client, archived = after_change(state)
    if sent_kinds and archived and not state.archived:  # the client changes before the copies go
        world.archive(client_id)
    if sent_kinds and client != state.client:
        world.put_client_level(client_id, client)
    made = list(EmailJob.by_client.query(f"{org_id}#{client_id}"))
    for kind, job_id in jobs.items():
        copies = [j for j in made if j.copy_of == job_id]
        sent = kind in sent_kinds
        holders = copy_holders(state, kind, emails) if sent else set()
        assert {c.to for c in copies} == holders, kind  # R29: a copy a holder, of sent ones only
        reason = client_decision(state, kind, client, archived)
        for copy in copies:
            sender.sent.clear()
            delivery.deliver(copy.job_id, sender)
            copy.refresh()
            expected = ("sent" if reason is None else "suppressed", reason)
            assert (copy.status, copy.reason) == expected, (kind, copy.to)
            assert [m["to"] for m in sender.sent] == ([] if reason else [copy.to]), kind
