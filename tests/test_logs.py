"""R48: logs carry ids, never names, emails, dates of birth or tokens."""

from __future__ import annotations

import json
import logging

import pytest

from tests.support.api import Api, give_password, login, sign_up_practice


def test_logs_of_a_whole_flow_hold_no_personal_data_or_secrets(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)  # every logger at the level Lambda runs them
    practice = sign_up_practice(api, "sunrise")
    created = api.post(
        f"/v1/orgs/{practice.id}/clients",
        {
            "first_name": "Zelda",
            "last_name": "Quixote",
            "email": "zelda@example.com",
            "dob": "1980-02-03",
            "phone": "+1 555 0199",
        },
        practice.admin_token,
    ).body["client"]
    give_password("zelda@example.com")
    token = login(api, "zelda@example.com").body["token"]
    login(api, "zelda@example.com", "wrong password")
    api.patch(
        f"/v1/orgs/{practice.id}/clients/{created['id']}",
        {"email": "z2@example.com"},
        practice.admin_token,
    )
    text = "\n".join(record.getMessage() for record in caplog.records)
    for secret in (
        "Zelda",
        "Quixote",
        "zelda@example.com",
        "z2@example.com",
        "1980-02-03",
        "555 0199",
        token,
        practice.admin_token,
        practice.admin_email,
    ):
        assert secret not in text, secret
    events = [json.loads(r.getMessage()) for r in caplog.records if r.name == "portico_events"]
    assert {"org.created", "client.created", "identity.signed_in", "client.updated"} <= {
        e["event"] for e in events
    }
    assert any(e.get("client_id") == created["id"] for e in events)
