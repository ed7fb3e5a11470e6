"""R55: staff find a client by the start of a first name, last name or email, case and accents
aside, in name order, paged, in a constant number of round trips; the linking flow (R25) finds
its client this way. Every change to a name, an email or a status moves the client's entries
in its own transaction, whichever way the client arrived."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from chalicelib import clock, db
from chalicelib.db import Tx
from chalicelib.models.profiles import ClientProfile
from chalicelib.services.identity import identities
from scripts import backfill_search
from tests.support.api import Api, Practice, sign_up_practice
from tests.support.join import Browser, code_of, confirm, make_group, sign_up_fields
from tests.support.records import stored
from tests.support.worlds import shared_world

# First name, last name, email; the world's order by last name, then first name, is this one.
PEOPLE = [
    ("Émile", "Durand", "emile.durand@example.com"),
    ("Mark", "Emerson", None),
    ("Zoë", "Émery", "zoe@example.com"),
    ("Anna", "Smith", "anna.smith@example.com"),
    ("Bob", "Smithson", "bob@smith.example"),
    ("Emma", "Stone", "estone@example.com"),
]


def build_directory(api: Api) -> dict[str, Any]:
    practice = sign_up_practice(api, "atlas")
    ids = {}
    for first, last, email in PEOPLE:
        body: dict[str, Any] = {"first_name": first, "last_name": last, "send_invite": False}
        if email:
            body["email"] = email
        answer = api.post(f"/v1/orgs/{practice.id}/clients", body, practice.admin_token)
        assert answer.status == 201, answer.body
        ids[f"{first} {last}"] = answer.body["client"]["id"]
    archived = api.post(
        f"/v1/orgs/{practice.id}/clients",
        {"first_name": "Emily", "last_name": "Archer", "send_invite": False},
        practice.admin_token,
    ).body["client"]["id"]
    assert api.post(clients(practice, archived, "archive"), {}, practice.admin_token).status == 200
    ids["Emily Archer"] = archived
    other = sign_up_practice(api, "beacon")
    api.post(
        f"/v1/orgs/{other.id}/clients",
        {"first_name": "Emil", "last_name": "Elsewhere", "email": "emil@example.com"},
        other.admin_token,
    )
    return {"practice": practice, "other": other, "ids": ids}


_directory_built, directory = shared_world("directory", build_directory)


def clients(practice: Practice, *parts: str) -> str:
    return "/".join([f"/v1/orgs/{practice.id}/clients", *parts])


def search(api: Api, practice: Practice, q: str, **params: Any) -> Any:
    query = "&".join(f"{k}={quote(str(v))}" for k, v in {"q": q, **params}.items())
    return api.get(f"{clients(practice)}?{query}", practice.admin_token)


def names(answer: Any) -> list[str]:
    assert answer.status == 200, answer.body
    return [f"{c['first_name']} {c['last_name']}" for c in answer.body["clients"]]


def every_page(api: Api, practice: Practice, q: str, **params: Any) -> list[list[str]]:
    pages, cursor = [], None
    while True:
        extra = {**params, **({"cursor": cursor} if cursor else {})}
        answer = search(api, practice, q, **extra)
        pages.append(names(answer))
        cursor = answer.body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 20, "the cursor never ends"


# What a query finds ------------------------------------------------------------------------


def test_r55_a_query_finds_the_start_of_a_first_name_a_last_name_or_an_email(api, directory):
    # R55: "em" starts Émile and Emma (first names), Emerson and Émery (last names); "est"
    # starts Emma Stone's email only; the archived Emily Archer is not in the default list
    practice = directory["practice"]
    assert names(search(api, practice, "em")) == [
        "Émile Durand",
        "Mark Emerson",
        "Zoë Émery",
        "Emma Stone",
    ]
    assert names(search(api, practice, "est")) == ["Emma Stone"]
    assert names(search(api, practice, "anna.smith@")) == ["Anna Smith"]


def test_r55_only_the_start_of_a_term_matches(api, directory):
    # R55: the start, not the middle: "urand" is inside Durand, "smith.example" inside an email
    practice = directory["practice"]
    assert names(search(api, practice, "urand")) == []
    assert names(search(api, practice, "smith.example")) == []
    assert names(search(api, practice, "smith")) == ["Anna Smith", "Bob Smithson"]


@pytest.mark.parametrize("q", ["ÉMI", "emi", "Emi", "e\u0301mi", "  emi "])
def test_r55_case_and_accents_do_not_matter(api, directory, q: str):
    # R55: "Émile" is found however the query writes its E: upper or lower, with or without
    # the accent, the accent composed or as a combining mark, spaces around
    assert names(search(api, directory["practice"], q)) == ["Émile Durand"]


def test_r55_a_name_stored_with_a_combining_accent_is_found_by_the_composed_one(api, practice):
    # R55: "Ine\u0301s" (e and a combining acute) and "Inés" are the same name to the search
    body = {"first_name": "Ine\u0301s", "last_name": "Ruiz", "send_invite": False}
    assert api.post(clients(practice), body, practice.admin_token).status == 201
    for q in ("Inés", "ines", "INES"):
        assert names(search(api, practice, q)) == ["Ine\u0301s Ruiz"], q


def test_r55_a_client_matched_twice_is_listed_once(api, directory):
    # R55: Émile Durand's first name and email both start with "emile"; he is one result
    assert names(search(api, directory["practice"], "emile")) == ["Émile Durand"]


def test_r55_a_query_longer_than_the_indexed_start_still_decides(api, practice):
    # R55: starts are indexed up to 10 characters; "christophers" (12) finds Christophersen,
    # not Christopher, and "christopher" (11) both
    for last in ("Christopher", "Christophersen"):
        body = {"first_name": "Lee", "last_name": last, "send_invite": False}
        assert api.post(clients(practice), body, practice.admin_token).status == 201
    assert names(search(api, practice, "christophers")) == ["Lee Christophersen"]
    assert names(search(api, practice, "christopher")) == [
        "Lee Christopher",
        "Lee Christophersen",
    ]


def test_r55_results_are_in_name_order_and_page_through_without_gaps(api, practice):
    # R55: last name, then first name, accents aside; pages of 2 give each client once, in order
    people = [("Ana", "Sousa"), ("Bea", "Sá"), ("Cy", "Sa"), ("Al", "Sanders"), ("Di", "Soto")]
    for first, last in people:
        body = {"first_name": first, "last_name": last, "send_invite": False}
        assert api.post(clients(practice), body, practice.admin_token).status == 201
    expected = ["Bea Sá", "Cy Sa", "Al Sanders", "Di Soto", "Ana Sousa"]
    assert names(search(api, practice, "s")) == expected
    pages = every_page(api, practice, "s", limit=2)
    assert [len(page) for page in pages] == [2, 2, 1]
    assert [name for page in pages for name in page] == expected


def test_r55_archived_clients_are_found_only_when_the_list_asks_for_them(api, directory):
    # R55 with R38: archived clients are hidden from the default search, alone with
    # status=archived, and merged in name order with status=all, page by page
    practice = directory["practice"]
    assert names(search(api, practice, "emi")) == ["Émile Durand"]
    assert names(search(api, practice, "emi", status="archived")) == ["Emily Archer"]
    assert names(search(api, practice, "emi", status="all")) == ["Emily Archer", "Émile Durand"]
    pages = every_page(api, practice, "e", status="all", limit=1)
    assert [name for page in pages for name in page] == [
        "Emily Archer",
        "Émile Durand",
        "Mark Emerson",
        "Zoë Émery",
        "Emma Stone",
    ]


def test_r55_another_practices_clients_are_never_found(api, directory):
    # R4 with R55: "Emil Elsewhere" of another practice starts with "emil" too
    practice, other = directory["practice"], directory["other"]
    assert names(search(api, practice, "emil", status="all")) == ["Emily Archer", "Émile Durand"]
    assert names(search(api, other, "emil")) == ["Emil Elsewhere"]


def test_r55_a_cursor_of_another_search_is_refused(api, directory):
    # R4: a cursor names its own search's partitions; another query's or practice's is a 400
    practice, other = directory["practice"], directory["other"]
    cursor = search(api, practice, "e", limit=1).body["next_cursor"]
    assert cursor
    for where, q in ((practice, "s"), (other, "e")):
        answer = search(api, where, q, limit=1, cursor=cursor)
        assert answer.status == 400, answer.body
        assert answer.body["error"]["details"][0]["field"] == "cursor"


def test_r55_an_empty_query_is_the_plain_list(api, directory):
    # API.md: `q` narrows the list; a blank one is no narrowing
    practice = directory["practice"]
    plain = api.get(clients(practice), practice.admin_token).body["clients"]
    assert search(api, practice, "  ").body["clients"] == plain


def test_r55_search_and_a_provider_filter_together_are_refused(api, directory):
    # R55: the search spans every provider's clients; asking both at once is a 400 on `q`
    practice = directory["practice"]
    answer = search(api, practice, "em", provider_id="pr_" + "1" * 24)
    assert answer.status == 400
    assert answer.body["error"]["details"][0]["field"] == "q"


def test_r55_a_search_costs_the_same_round_trips_whatever_it_finds(api, directory, dynamo_calls):
    # R55: session (2, issue #17), one Query on the query's partition, one BatchGetItem of the
    # page; two Queries with status=all; never a Scan
    practice = directory["practice"]
    for q, status, queries in (("e", "active", 1), ("smith", "active", 1), ("e", "all", 2)):
        dynamo_calls.clear()
        assert search(api, practice, q, status=status).status == 200
        assert dynamo_calls.operations.count("Query") == queries, dynamo_calls.operations
        assert dynamo_calls.operations.count("BatchGetItem") == 2  # the session's, the page's
        assert len(dynamo_calls.operations) == 2 + queries + 1, dynamo_calls.operations


# The entries follow every change -------------------------------------------------------------


def test_r55_a_renamed_client_is_found_by_the_new_name_only(api, practice):
    # R55: the entries of the old name leave in the rename's own transaction
    client = api.post(
        clients(practice), {"first_name": "Maya", "last_name": "Chen"}, practice.admin_token
    ).body["client"]
    changed = api.patch(
        clients(practice, client["id"]), {"last_name": "Okafor"}, practice.admin_token
    )
    assert changed.status == 200
    assert names(search(api, practice, "chen")) == []
    assert names(search(api, practice, "okafor")) == ["Maya Okafor"]
    assert names(search(api, practice, "may")) == ["Maya Okafor"]


def test_r55_a_client_whose_email_changed_is_found_by_the_new_email_only(api, practice):
    # R55 with R19: the old address's entries leave, the new one's arrive
    body = {"first_name": "Maya", "last_name": "Chen", "email": "maya@old.example"}
    client = api.post(clients(practice), body, practice.admin_token).body["client"]
    changed = api.patch(
        clients(practice, client["id"]), {"email": "mchen@new.example"}, practice.admin_token
    )
    assert changed.status == 200
    assert names(search(api, practice, "maya@")) == []
    assert names(search(api, practice, "mchen@new")) == ["Maya Chen"]
    removed = api.patch(clients(practice, client["id"]), {"email": None}, practice.admin_token)
    assert removed.status == 200
    assert names(search(api, practice, "mchen")) == []
    assert names(search(api, practice, "maya")) == ["Maya Chen"]


def test_r55_archive_and_unarchive_move_the_client_between_the_searches(api, practice):
    # R55 with R38
    client = api.post(
        clients(practice), {"first_name": "Maya", "last_name": "Chen"}, practice.admin_token
    ).body["client"]
    api.post(clients(practice, client["id"], "archive"), {}, practice.admin_token)
    assert names(search(api, practice, "chen")) == []
    assert names(search(api, practice, "chen", status="archived")) == ["Maya Chen"]
    api.post(clients(practice, client["id"], "unarchive"), {}, practice.admin_token)
    assert names(search(api, practice, "chen")) == ["Maya Chen"]
    assert names(search(api, practice, "chen", status="archived")) == []


def test_r55_every_way_a_client_arrives_is_found(api, practice):
    # R55 with R10, R16–R18, R25: staff add, import, group link, booking, purchase and a link's
    # new client each file the client in the same transaction that adds it
    org = practice.id
    token = practice.admin_token
    assert api.post(clients(practice), {"first_name": "Ava", "last_name": "Staffadd"}, token)
    imported = api.call(
        "POST",
        f"/v1/orgs/{org}/imports",
        raw="first_name,last_name,email,phone,dob\nIvy,Imported,ivy@example.com,,\n",
        token=token,
        headers={"content-type": "text/csv"},
    )
    assert imported.status == 200, imported.body
    group = make_group(api, practice)
    asked = Browser(api).post(
        f"/join/{code_of(group)}",
        sign_up_fields("june@example.com", first_name="June", last_name="Joined"),
    )
    assert asked.status == 200, asked.body
    joined = confirm(api, practice, "june@example.com")  # R51: the emailed link finishes it
    assert joined.status == 303, joined.body
    slug = practice.org["slug"]
    booked = api.post(
        f"/v1/public/orgs/{slug}/bookings",
        {
            "email": "bo@example.com",
            "first_name": "Bo",
            "last_name": "Booked",
            "starts_at": "2099-03-01T10:00:00Z",
        },
    )
    assert booked.status == 201, booked.body
    bought = api.post(
        f"/v1/public/orgs/{slug}/purchases",
        {"email": "pat@example.com", "first_name": "Pat", "last_name": "Bought", "package": "Five"},
    )
    assert bought.status == 201, bought.body
    origin = api.get(f"{clients(practice)}?q=staffadd", token).body["clients"][0]["id"]
    linked = api.post(
        clients(practice, origin, "links"),
        {"new_client": {"first_name": "Lin", "last_name": "Linked"}, "relationship": "spouse"},
        token,
    )
    assert linked.status == 201, linked.body
    for q, name in (
        ("staffadd", "Ava Staffadd"),
        ("ivy@", "Ivy Imported"),
        ("joined", "June Joined"),
        ("bo@example", "Bo Booked"),
        ("bought", "Pat Bought"),
        ("lin", "Lin Linked"),
    ):
        assert names(search(api, practice, q)) == [name], q


def test_r55_a_change_retried_after_an_email_race_still_moves_its_entries(
    api, practice, monkeypatch
):
    # R55: an email change whose first attempt loses a race runs again from the same profile;
    # the entries it writes must still be those of the old name and email going, the new coming
    body = {"first_name": "Maya", "last_name": "Chen", "email": "maya@old.example"}
    client = api.post(clients(practice), body, practice.admin_token).body["client"]
    real_commit = Tx.commit
    raced = []

    def commit_losing_once(self: Tx, attempts: int = 5) -> None:
        if not raced and any(key.startswith("search#") for key in self._after_commit):
            raced.append(True)
            raise identities.EmailClaimedMeanwhile()
        real_commit(self, attempts)

    monkeypatch.setattr(Tx, "commit", commit_losing_once)
    changed = api.patch(
        clients(practice, client["id"]),
        {"last_name": "Okafor", "email": "maya@new.example"},
        practice.admin_token,
    )
    assert changed.status == 200, changed.body
    assert raced
    assert names(search(api, practice, "chen")) == []
    assert names(search(api, practice, "maya@old")) == []
    assert names(search(api, practice, "okafor")) == ["Maya Okafor"]
    assert names(search(api, practice, "maya@new")) == ["Maya Okafor"]


def test_r55_a_profile_saved_without_its_search_entries_is_refused(api, practice):
    # R55: a new way of changing a name that forgot the entries fails before it writes anything
    client = api.post(
        clients(practice), {"first_name": "Maya", "last_name": "Chen"}, practice.admin_token
    ).body["client"]
    profile = stored(ClientProfile, practice.id, client["id"])
    profile.last_name = "Okafor"
    with pytest.raises(AssertionError, match="search entries"):
        Tx().save(profile)
    assert db.get(ClientProfile, practice.id, client["id"]).last_name == "Chen"


def test_r55_a_profile_stored_before_search_existed_is_found_once_filed(api, practice):
    # R55, scripts/backfill_search.py: a profile written before the search table (no entries,
    # no `searched_as`) is not found until the backfill files it, once
    moment = clock.now()
    legacy = ClientProfile(
        practice.id,
        "cl_" + "7" * 24,
        first_name="Olga",
        last_name="Legacy",
        primary_provider_id="pr_" + "1" * 24,
        created_at=moment,
        updated_at=moment,
    )
    legacy.save()
    assert names(search(api, practice, "legacy")) == []
    assert backfill_search.file_one(practice.id, legacy.client_id) is True
    assert names(search(api, practice, "legacy")) == ["Olga Legacy"]
    assert backfill_search.file_one(practice.id, legacy.client_id) is False


# The linking flow (R25) ----------------------------------------------------------------------


def test_r25_staff_search_for_the_client_to_link_and_link_the_one_found(api, practice):
    # R25, R55: "search for and find your client": the search gives the id the link takes, and
    # the found client then shows the link (R26)
    token = practice.admin_token
    origin = api.post(clients(practice), {"first_name": "Maya", "last_name": "Chen"}, token)
    other = api.post(clients(practice), {"first_name": "Noor", "last_name": "Haddad"}, token)
    assert origin.status == other.status == 201
    (found,) = search(api, practice, "had").body["clients"]
    assert found["id"] == other.body["client"]["id"]
    link = api.post(
        clients(practice, origin.body["client"]["id"], "links"),
        {"client_id": found["id"], "relationship": "spouse"},
        token,
    )
    assert link.status == 201, link.body
    (again,) = search(api, practice, "had").body["clients"]
    assert [summary["client_id"] for summary in again["links"]] == [origin.body["client"]["id"]]
