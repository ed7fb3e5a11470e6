"""db.Tx under DynamoDB's TransactionConflict: retried, then a clear 409, never half-written.

moto never cancels a transaction for a conflict, so these inject the cancellation DynamoDB
sends when two transactions touch one item at once (many sign-ups sharing one identity)."""

from __future__ import annotations

from typing import Any

import botocore.client
import pytest
from botocore.exceptions import ClientError

from chalicelib.models.orgs import Group
from chalicelib.models.profiles import ClientProfile
from tests.support.api import Api, Practice
from tests.support.invites import add_client, invite_path, submit
from tests.support.join import Browser, code_of, confirm_path, make_group, sign_up_fields
from tests.support.records import stored

NEW_PASSWORD = "a fresh long password"


def conflict(items: int) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"},
            "CancellationReasons": [{"Code": "TransactionConflict"}]
            + [{"Code": "None"}] * (items - 1),
        },
        "TransactWriteItems",
    )


@pytest.fixture
def conflicts(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Make the next `left` TransactWriteItems calls fail as conflicting; count the tries."""
    state = {"left": 0, "tries": 0}
    original = botocore.client.BaseClient._make_api_call

    def flaky(self: Any, operation_name: str, params: dict[str, Any]) -> Any:
        if operation_name == "TransactWriteItems":
            state["tries"] += 1
            if state["left"] > 0:
                state["left"] -= 1
                raise conflict(len(params["TransactItems"]))
        return original(self, operation_name, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", flaky)
    return state


def add(api: Api, practice: Practice):
    return api.post(
        f"/v1/orgs/{practice.id}/clients",
        {"first_name": "Maya", "last_name": "Chen", "email": "maya@example.com"},
        practice.admin_token,
    )


def listed(api: Api, practice: Practice) -> list[dict]:
    return api.get(f"/v1/orgs/{practice.id}/clients?status=all", practice.admin_token).body[
        "clients"
    ]


def test_a_conflicting_transaction_is_retried_and_lands_once(api: Api, practice, conflicts):
    # R1, R12: a transient conflict is not the caller's problem; the write lands exactly once.
    conflicts.update(left=2, tries=0)
    answer = add(api, practice)
    assert answer.status == 201
    assert conflicts["tries"] == 3
    assert [c["id"] for c in listed(api, practice)] == [answer.body["client"]["id"]]


def test_a_conflict_that_persists_is_a_409_and_writes_nothing(api: Api, practice, conflicts):
    # API.md: 409 with a message a person can act on; never a 500, never half a record.
    conflicts.update(left=99, tries=0)
    answer = add(api, practice)
    assert answer.status == 409
    assert answer.error_code() == "concurrent_change"
    assert "try again" in answer.body["error"]["message"]
    assert conflicts["tries"] == 5
    conflicts["left"] = 0
    assert listed(api, practice) == []
    assert add(api, practice).status == 201


def conflicting_once(monkeypatch: pytest.MonkeyPatch, attribute: str) -> list[list[str]]:
    """Cancel, as conflicting, the first TransactWriteItems that updates `attribute`; list the
    update expressions of every such call, so a test sees what the retry sent."""
    sent: list[list[str]] = []
    original = botocore.client.BaseClient._make_api_call

    def flaky(self: Any, operation_name: str, params: dict[str, Any]) -> Any:
        if operation_name == "TransactWriteItems":
            updates = [
                item["Update"]["UpdateExpression"]
                for item in params["TransactItems"]
                if "Update" in item
                and attribute in item["Update"]["ExpressionAttributeNames"].values()
            ]
            if updates:
                sent.append(updates)
                if len(sent) == 1:
                    raise conflict(len(params["TransactItems"]))
        return original(self, operation_name, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", flaky)
    return sent


def test_a_retried_transaction_sends_a_versioned_update_once(
    api: Api, practice: Practice, monkeypatch: pytest.MonkeyPatch
):
    # R13, R15: accepting an invite activates the profile with an update in its transaction;
    # the profile has a VersionAttribute, whose increment PynamoDB appends to the update. The
    # retry after a conflict must send that update again, not the increment twice (DynamoDB
    # refuses two actions on one attribute: the acceptance would end in a 500). Issue #11.
    client = add_client(api, practice, "maya@example.com")
    path = invite_path(practice, client["id"])
    sent = conflicting_once(monkeypatch, "activated_at")
    answer = submit(api, path, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert answer.status == 303, answer.raw[:500]
    assert len(sent) == 2
    assert sent[0] == sent[1]  # the same update, sent again
    profile = stored(ClientProfile, practice.id, client["id"])
    assert profile.activated_at is not None


def test_a_retried_sign_up_moves_the_groups_count_and_version_once(
    api: Api, practice: Practice, monkeypatch: pytest.MonkeyPatch
):
    # B3, R16: a group sign-up moves the group's count, and with it the group's version, in its
    # transaction (issue #11); retried after a conflict, it sends the same update again.
    group = make_group(api, practice)
    code = code_of(group)
    assert Browser(api).post(f"/join/{code}", sign_up_fields()).status == 200
    path = confirm_path(practice, "maya@example.com")  # R51: the emailed link finishes it
    before = stored(Group, practice.id, Group.sk_for(group["id"])).version
    sent = conflicting_once(monkeypatch, "signups")
    answer = submit(api, path, {})
    assert answer.status == 303, answer.raw[:500]
    assert len(sent) == 2
    assert sent[0] == sent[1]
    saved = stored(Group, practice.id, Group.sk_for(group["id"]))
    assert saved.signups == 1
    assert saved.version == before + 1
