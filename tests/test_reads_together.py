"""Reads that do not depend on each other go in one BatchGetItem (`db.get_together`, issue
#17), and a session's reads come in two round trips without going stale (R35, R37, R46)."""

from __future__ import annotations

import json
import threading
from typing import Any

import botocore.client
import pytest

from chalicelib import aws, db
from chalicelib.errors import Conflict, Throttled
from chalicelib.models.identities import Identity
from chalicelib.models.orgs import Group, Organization, Provider
from chalicelib.models.profiles import ClientProfile
from tests.support.api import Api, Practice, give_password, sign_up_practice
from tests.support.family import add_client, client_session


def test_get_together_reads_many_tables_in_one_call_and_tells_shared_tables_apart(
    api: Api, practice: Practice, dynamo_calls: Any
) -> None:
    sam = add_client(api, practice, "Sam", "sam@example.com")
    group = api.post(f"/v1/orgs/{practice.id}/groups", {"name": "Teens"}, practice.admin_token)
    group_id = group.body["group"]["id"]
    admin = api.get("/v1/me", practice.admin_token).body["account"]["account_id"].split(":")[-1]
    dynamo_calls.clear()
    found = db.get_together(
        [
            (Organization, practice.id, "org"),
            (Group, practice.id, Group.sk_for(group_id)),
            (Provider, practice.id, Provider.sk_for(admin)),
            (ClientProfile, practice.id, sam),
            (ClientProfile, practice.id, "cl_missing"),
            (Identity, "id_missing", None),
        ]
    )
    assert dynamo_calls.operations == ["BatchGetItem"]
    org = found.of(Organization, practice.id, "org")
    assert org is not None
    assert org.org_id == practice.id
    group_read = found.of(Group, practice.id, Group.sk_for(group_id))
    provider = found.of(Provider, practice.id, Provider.sk_for(admin))
    profile = found.of(ClientProfile, practice.id, sam)
    assert (group_read and group_read.group_id, provider and provider.provider_id) == (
        group_id,
        admin,
    )
    assert profile is not None
    assert profile.client_id == sam
    assert found.of(ClientProfile, practice.id, "cl_missing") is None
    assert found.of(Identity, "id_missing") is None
    # a model asked for under another's key is not there: the organization is no Group
    assert found.of(Group, practice.id, "org") is None


def test_get_together_reads_past_batch_get_items_hundred_keys(api: Api, practice: Practice) -> None:
    keys: list[db.Key] = [(ClientProfile, practice.id, f"cl_{n:024d}") for n in range(150)]
    found = db.get_together([*keys, (Organization, practice.id, "org")])
    assert found.of(Organization, practice.id, "org") is not None


def test_r35_a_client_moved_to_another_group_since_sign_in_gets_that_groups_settings(
    api: Api, practice: Practice
) -> None:
    # The session keeps the group its profile had as a hint; a move must not leave it stale.
    token = practice.admin_token
    quiet = api.post(
        f"/v1/orgs/{practice.id}/groups",
        {"name": "Quiet", "portal_settings": {"features": {"journal": False}}},
        token,
    ).body["group"]["id"]
    sam = add_client(api, practice, "Sam", "sam@example.com")
    give_password("sam@example.com")
    session = client_session(api, "sam@example.com")
    assert api.get("/v1/portal/journal-entries", session).status == 200
    moved = api.patch(f"/v1/orgs/{practice.id}/clients/{sam}", {"group_id": quiet}, token)
    assert moved.status == 200, moved.body
    answer = api.get("/v1/portal/journal-entries", session)
    assert (answer.status, answer.error_code()) == (403, "feature_disabled")
    left = api.patch(f"/v1/orgs/{practice.id}/clients/{sam}", {"group_id": None}, token)
    assert left.status == 200, left.body
    assert api.get("/v1/portal/journal-entries", session).status == 200


def test_a_client_session_knows_who_is_calling_in_two_round_trips(
    api: Api, practice: Practice, dynamo_calls: Any
) -> None:
    # issue #17: the session's GetItem, then one BatchGetItem of identity, profile and levels
    group = api.post(f"/v1/orgs/{practice.id}/groups", {"name": "Teens"}, practice.admin_token)
    add_client(api, practice, "Sam", "sam@example.com", group_id=group.body["group"]["id"])
    give_password("sam@example.com")
    session = client_session(api, "sam@example.com")
    dynamo_calls.clear()
    assert api.get("/v1/portal/settings", session).status == 200
    assert dynamo_calls.operations[:2] == ["GetItem", "BatchGetItem"]
    assert len(dynamo_calls.operations) == 2


def test_reads_issued_together_run_at_once_in_order_and_raise_what_they_raise() -> None:
    # issue #17: each read waits for the other at a barrier, so run one after another they
    # would time out; the answers come back in the order asked
    meeting = threading.Barrier(3, timeout=5)

    def read(answer: int) -> int:
        meeting.wait()
        return answer

    assert db.all_together([lambda: read(1), lambda: read(2), lambda: read(3)]) == [1, 2, 3]
    assert db.all_together([]) == []

    def broken() -> int:
        raise LookupError("a read failed")

    with pytest.raises(LookupError):
        db.together(lambda: 1, broken)


def test_get_together_asks_again_for_unprocessed_keys_then_answers_429(
    api: Api, practice: Practice, monkeypatch: pytest.MonkeyPatch
) -> None:
    # DynamoDB may leave keys of a BatchGetItem unprocessed when throttled: they are asked
    # again with backoff; a table that stays throttled answers 429, never loops or 500s.
    client = aws.client("dynamodb")
    real = client.batch_get_item
    left = {"unprocessed": 2}

    def throttled(RequestItems: dict[str, Any]) -> dict[str, Any]:
        if left["unprocessed"]:
            left["unprocessed"] -= 1
            return {"Responses": {}, "UnprocessedKeys": RequestItems}
        return real(RequestItems=RequestItems)

    monkeypatch.setattr(client, "batch_get_item", throttled)
    monkeypatch.setattr(db.time, "sleep", lambda seconds: None)
    found = db.get_together([(Organization, practice.id, "org")])
    assert found.of(Organization, practice.id, "org") is not None
    left["unprocessed"] = db.UNPROCESSED_ROUNDS + 1
    with pytest.raises(Throttled):
        db.get_together([(Organization, practice.id, "org")])


# Reading ahead with the session (issue #17) -----------------------------------------------------


def test_a_read_ahead_answers_the_request_until_its_first_write_then_reads_afresh(
    api: Api, practice: Practice, dynamo_calls: Any
) -> None:
    # issue #17: what a request read with its session stands in for its later reads, as if read
    # then; once it writes (or a refused write is retried), it reads DynamoDB again, so a rule
    # checked after a write never sees the item as it was before it
    sam = add_client(api, practice, "Sam", "sam@example.com")
    key: db.Key = (ClientProfile, practice.id, sam)
    with db.request_scope():
        db.read_with([], db.ReadAhead([key, (ClientProfile, practice.id, "cl_none")]))
        _rename(practice.id, sam, "Samuel")  # another request changes it meanwhile
        dynamo_calls.clear()
        read = db.get(ClientProfile, practice.id, sam)
        assert read is not None
        assert read.first_name == "Sam"
        assert db.get(ClientProfile, practice.id, "cl_none") is None  # known missing, not asked
        assert db.get_together([key]).of(*key) is read
        assert dynamo_calls.operations == []
        tx = db.Tx()
        tx.check(
            Organization,
            practice.id,
            "org",
            Organization.org_id.does_not_exist(),
            on_conflict=lambda: Conflict("refused"),
        )
        with pytest.raises(Conflict):
            tx.commit()  # a refused write: the retry must read afresh
        again = db.get(ClientProfile, practice.id, sam)
        assert again is not None
        assert again.first_name == "Samuel"
        assert dynamo_calls.operations == ["TransactWriteItems", "GetItem"]
    dynamo_calls.clear()
    db.get(ClientProfile, practice.id, sam)  # outside a request nothing is kept
    assert dynamo_calls.operations == ["GetItem"]


def _rename(org_id: str, client_id: str, first_name: str) -> None:
    aws.client("dynamodb").update_item(
        TableName=ClientProfile.Meta.table_name,
        Key={"org_id": {"S": org_id}, "client_id": {"S": client_id}},
        UpdateExpression="SET first_name = :n",
        ExpressionAttributeValues={":n": {"S": first_name}},
    )


def test_r4_a_session_of_another_practice_reads_nothing_of_the_path_ahead(
    api: Api, practice: Practice, monkeypatch: pytest.MonkeyPatch
) -> None:
    # R4: a staff session of practice B naming practice A's client gets the same 404 as for a
    # missing one, and its batch read holds only what its own session stands on
    sam = add_client(api, practice, "Sam", "sam@example.com")
    other = sign_up_practice(api, "harbor-reads")
    asked: list[list[db.Key]] = []
    original = db.get_together

    def spy(keys: Any) -> db.Found:
        asked.append(list(keys))
        return original(keys)

    monkeypatch.setattr(db, "get_together", spy)
    path = f"/v1/orgs/{practice.id}/clients"
    for method, suffix in (
        ("GET", f"/{sam}"),
        ("POST", f"/{sam}/invite"),
        ("POST", f"/{sam}/archive"),
    ):
        asked.clear()
        answer = api.call(method, path + suffix, None, other.admin_token)
        assert (answer.status, answer.error_code()) == (404, "org_not_found"), suffix
        assert [model for model, _, _ in asked[0]] == [Identity, Provider], suffix
    asked.clear()
    # the practice's own staff read the profile with the session
    assert api.get(path + f"/{sam}", practice.admin_token).status == 200
    assert (ClientProfile, practice.id, sam) in asked[0]


def test_reads_together_nested_in_parallel_requests_never_wait_on_each_other() -> None:
    # issue #17: a read issued together that issues reads together itself (the account Queries
    # read beside a session) runs them on its own thread; were it to wait on the shared pool,
    # parallel requests would fill every pool thread with such waits and hang (R52's races)
    barrier = threading.Barrier(8)

    def inner() -> int:
        return sum(db.all_together([lambda: 1, lambda: 1, lambda: 1]))

    def request() -> None:
        barrier.wait()
        assert db.all_together([inner, inner, inner, inner]) == [3, 3, 3, 3]

    threads = [threading.Thread(target=request, daemon=True) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert not any(thread.is_alive() for thread in threads)


def test_a_path_id_too_long_for_a_key_answers_missing_unread(
    api: Api, practice: Practice, monkeypatch: pytest.MonkeyPatch
) -> None:
    # issue #17, R4: what a path names is read ahead with the session only when it could be an
    # id Portico made (records.names_an_id); a longer one is never sent to DynamoDB (whose keys
    # stop at 1,024 bytes: a ValidationError there, a 500 here) and answers the contract's 404
    long_client = "cl_" + "a" * 3000
    long_provider = "pr_" + "b" * 3000
    asked: list[str] = []
    original = botocore.client.BaseClient._make_api_call

    def recording(client: Any, operation: str, params: dict[str, Any]) -> Any:
        asked.append(json.dumps(params, default=str))
        return original(client, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
    base = f"/v1/orgs/{practice.id}"
    for method, path, code in (
        ("GET", f"{base}/clients/{long_client}", "client_not_found"),
        ("POST", f"{base}/clients/{long_client}/archive", "client_not_found"),
        ("POST", f"{base}/clients/{long_client}/invite", "client_not_found"),
        ("POST", f"{base}/providers/{long_provider}/invite", "provider_not_found"),
    ):
        answer = api.call(method, path, None, practice.admin_token)
        assert (answer.status, answer.error_code()) == (404, code), path
    assert not [call for call in asked if "a" * 3000 in call or "b" * 3000 in call]
