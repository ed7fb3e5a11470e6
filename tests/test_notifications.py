"""R54: the platform's other services (and staff) notify a client through one API, with a kind
of the catalogue; Portico picks the recipients (the client, its copy holders, R29),
suppresses with the reason (R36–R38, R43), brands (R9, R40) and sends once (R41). Purchases
send the buyer a receipt (R17). The bounce and complaint side is tests/test_ses_feedback.py.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from chalicelib import config
from chalicelib.models.emails import EmailJob, NotificationRequest
from chalicelib.rules.email_kinds import KINDS
from chalicelib.rules.notifications import NOTIFICATIONS
from chalicelib.schemas.notifications import SendNotification
from chalicelib.services.email import notifications
from chalicelib.services.identity import sessions
from tests.support.api import SIGV4_AUTHORIZATION, Answer, Api, Practice, sign_up_practice
from tests.support.concurrency import at_once
from tests.support.contract import DOCUMENT, assert_documented
from tests.support.family import add_client

BRAND = {"display_name": "Sunrise Wellness", "primary_color": "#aa5500"}
ROUTE = "/v1/orgs/{org_id}/clients/{client_id}/notifications"
SERVICE_ROUTE = "/v1/services/orgs/{org_id}/clients/{client_id}/notifications"


def notify(
    api: Api,
    practice: Practice,
    client_id: str,
    kind: str,
    data: dict[str, Any] | None = None,
    key: str | None = None,
) -> Answer:
    path = ROUTE.format(org_id=practice.id, client_id=client_id)
    body = {"kind": kind, "data": NOTIFICATIONS[kind].sample if data is None else data}
    headers = {"idempotency-key": key} if key else None
    return api.call("POST", path, body, practice.admin_token, headers=headers)


def outbox(api: Api) -> list[dict[str, Any]]:
    assert api.post("/_local/drain").status == 200
    return api.get("/_local/outbox.json").body


def log(api: Api, practice: Practice, client_id: str) -> list[dict[str, Any]]:
    answer = api.get(f"/v1/orgs/{practice.id}/emails?client_id={client_id}", practice.admin_token)
    return answer.body["emails"]


def test_r54_every_kind_is_sent_to_the_client_in_the_practices_branding(
    api: Api, practice: Practice
) -> None:
    # R54, R9, R40: each kind of the catalogue reaches the client, its subject and body in the
    # practice's branding, saying the data it was given (escaped in HTML)
    api.patch(f"/v1/orgs/{practice.id}", {"branding": BRAND}, practice.admin_token)
    client_id = add_client(api, practice, "Maya", "maya@example.com")
    for kind in NOTIFICATIONS:
        answer = notify(api, practice, client_id, kind)
        assert answer.status == 202, answer.body
        assert_documented("POST", ROUTE, answer)
        notification = answer.body["notification"]
        assert notification["kind"] == kind
        assert [e["status"] for e in notification["emails"]] == ["queued"]
    sent = {e["kind"]: e for e in outbox(api)}
    assert set(sent) == set(NOTIFICATIONS)
    for kind, email in sent.items():
        assert email["to"] == "maya@example.com", kind
        assert email["org_id"] == practice.id
        assert "Sunrise Wellness" in email["html"], kind
        assert "#aa5500" in email["html"], kind  # the practice's colour, inlined (R40)
        assert "Hello Maya" in email["text"], kind
    assert sent["invoice"]["subject"] == "Invoice INV-2031 from Sunrise Wellness"
    assert "USD 120.00" in sent["invoice"]["text"]
    assert "Health history" in sent["form_requested"]["html"]


def test_r40_notification_data_is_escaped_in_the_html(api: Api, practice: Practice) -> None:
    client_id = add_client(api, practice, "Maya", "maya@example.com")
    data = {"document_name": "<script>alert(1)</script> & notes"}
    assert notify(api, practice, client_id, "document_shared", data).status == 202
    (email,) = outbox(api)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; notes" in email["html"]
    assert "<script>alert(1)</script> & notes" in email["text"]


@pytest.mark.parametrize(
    ("kind", "data", "field"),
    [
        ("invoice", {"amount_cents": 100, "due_on": "2026-12-15"}, "data.invoice_number"),
        ("invoice", {**NOTIFICATIONS["invoice"].sample, "amount_cents": "12"}, "data.amount_cents"),
        ("invoice", {**NOTIFICATIONS["invoice"].sample, "due_on": "15/12/2026"}, "data.due_on"),
        ("goal_reminder", {"goal_name": "Walk", "typo": 1}, "data.typo"),
        ("form_requested", {"form_name": ""}, "data.form_name"),
        ("payment_receipt", {"description": "x", "amount_cents": -1}, "data.amount_cents"),
        ("no_such_kind", {}, "kind"),
    ],
)
def test_r54_data_that_does_not_fit_its_kind_is_a_400_naming_the_field(
    api: Api, practice: Practice, kind: str, data: dict[str, Any], field: str
) -> None:
    client_id = add_client(api, practice, "Maya", "maya@example.com")
    path = ROUTE.format(org_id=practice.id, client_id=client_id)
    answer = api.post(path, {"kind": kind, "data": data}, practice.admin_token)
    assert answer.status == 400, answer.body
    assert field in [d["field"] for d in answer.body["error"]["details"]]
    assert list(EmailJob.by_client.query(f"{practice.id}#{client_id}")) == []


def test_r36_r43_a_feature_turned_off_suppresses_its_kinds_only(
    api: Api, practice: Practice
) -> None:
    # R36: bills off for the client: no receipt, invoice or superbill; a form request still goes
    client_id = add_client(api, practice, "Maya", "maya@example.com")
    settings = f"/v1/orgs/{practice.id}/clients/{client_id}/portal-settings"
    bills_off = {"features": {"bills": False}}
    assert api.call("PUT", settings, bills_off, practice.admin_token).status == 200
    for kind in ("payment_receipt", "invoice", "superbill", "form_requested"):
        assert notify(api, practice, client_id, kind).status == 202
    assert [e["kind"] for e in outbox(api)] == ["form_requested"]
    outcome = {e["kind"]: (e["status"], e["reason"]) for e in log(api, practice, client_id)}
    assert outcome == {
        "payment_receipt": ("suppressed", "feature_off"),
        "invoice": ("suppressed", "feature_off"),
        "superbill": ("suppressed", "feature_off"),
        "form_requested": ("sent", None),
    }


def test_r29_copy_holders_receive_a_copy_of_a_notification(api: Api, practice: Practice) -> None:
    client_id = add_client(api, practice, "Maya", "maya@example.com")
    contact = {
        "first_name": "Ana",
        "last_name": "Chen",
        "email": "ana@example.com",
        "relationship": "parent",
        "notify": True,
    }
    path = f"/v1/orgs/{practice.id}/clients/{client_id}/contacts"
    assert api.post(path, contact, practice.admin_token).status == 201
    assert notify(api, practice, client_id, "goal_reminder").status == 202
    sent = sorted(e["to"] for e in outbox(api) if e["kind"] == "goal_reminder")
    assert sent == ["ana@example.com", "maya@example.com"]


def test_r38_r11_an_archived_client_or_one_without_email_gets_none(
    api: Api, practice: Practice
) -> None:
    archived = add_client(api, practice, "Maya", "maya@example.com")
    api.post(f"/v1/orgs/{practice.id}/clients/{archived}/archive", {}, practice.admin_token)
    no_email = add_client(api, practice, "Noor", None)
    for client_id in (archived, no_email):
        assert notify(api, practice, client_id, "care_plan_shared").status == 202
    assert outbox(api) == []
    assert [e["reason"] for e in log(api, practice, archived)] == ["archived"]
    assert [e["reason"] for e in log(api, practice, no_email)] == ["no_email"]


def test_r4_another_practices_client_or_staff_answer_as_missing(
    api: Api, practice: Practice
) -> None:
    other = sign_up_practice(api, "other-practice")
    theirs = add_client(api, other, "Ola", "ola@example.com")
    mine = add_client(api, practice, "Maya", "maya@example.com")
    assert notify(api, practice, theirs, "goal_reminder").error_code() == "client_not_found"
    path = ROUTE.format(org_id=practice.id, client_id=mine)
    body = {"kind": "goal_reminder", "data": {"goal_name": "Walk"}}
    assert api.post(path, body, other.admin_token).status == 404
    assert api.post(path, body).status == 401  # the staff door needs a session


def test_r41_a_retried_call_with_its_idempotency_key_answers_the_first_result(
    api: Api, practice: Practice
) -> None:
    client_id = add_client(api, practice, "Maya", "maya@example.com")
    first = notify(api, practice, client_id, "invoice", key="inv-2031-sent")
    again = notify(api, practice, client_id, "invoice", key="inv-2031-sent")
    assert first.status == again.status == 202
    assert again.body == first.body
    assert len(outbox(api)) == 1
    assert notify(api, practice, client_id, "invoice").status == 202  # no key: a new one
    assert len(outbox(api)) == 2


def test_r41_the_same_key_with_another_request_is_refused(api: Api, practice: Practice) -> None:
    client_id = add_client(api, practice, "Maya", "maya@example.com")
    assert notify(api, practice, client_id, "goal_reminder", key="k-1").status == 202
    other_data = {"goal_name": "Sleep 8 hours"}
    answer = notify(api, practice, client_id, "goal_reminder", other_data, key="k-1")
    assert (answer.status, answer.error_code()) == (409, "idempotency_key_reused")
    assert len(outbox(api)) == 1


def test_r41_calls_racing_with_one_key_queue_one_email(
    api: Api, practice: Practice, atomic_moto: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # R41: eight calls at once with one key, each past its look-up of the key before any
    # writes: one email job, and every call answers that one notification
    client_id = add_client(api, practice, "Maya", "maya@example.com")
    actor = sessions.authenticate(practice.admin_token)
    req = SendNotification(kind="goal_reminder", data={"goal_name": "Walk"})
    all_looked = threading.Barrier(8)
    looked = threading.local()
    look_up = notifications._answered

    def look_up_then_wait(org_id: str, key: str, fingerprint: str) -> Any:
        found = look_up(org_id, key, fingerprint)
        if not getattr(looked, "once", False):
            looked.once = True
            all_looked.wait(timeout=30)  # nobody has written yet: all found nothing
        return found

    monkeypatch.setattr(notifications, "_answered", look_up_then_wait)
    results = at_once(
        lambda _: notifications.notify(actor, practice.id, client_id, req, "race-key"), 8
    )
    assert len({r.notification_id for r in results}) == 1
    assert len({r.emails[0].job_id for r in results}) == 1
    assert len(list(EmailJob.by_client.query(f"{practice.id}#{client_id}"))) == 1


def test_r41_the_key_is_kept_hashed_and_expires(api: Api, practice: Practice) -> None:
    client_id = add_client(api, practice, "Maya", "maya@example.com")
    assert notify(api, practice, client_id, "goal_reminder", key="secret-looking-key").status == 202
    kept = NotificationRequest.get(NotificationRequest.key_for(practice.id, "secret-looking-key"))
    assert "secret-looking-key" not in kept.key
    assert kept.purge_at is not None


def test_r54_the_platforms_services_call_the_iam_route_with_the_same_rules(
    api: Api, practice: Practice
) -> None:
    # The IAM door: API Gateway checks the signature in production (tests/test_deployment.py);
    # `chalice local` checks none, but an unsigned call is refused there too, as the contract
    # says. Same service function: data checked, client of the org.
    client_id = add_client(api, practice, "Maya", "maya@example.com")
    path = SERVICE_ROUTE.format(org_id=practice.id, client_id=client_id)
    program = {"kind": "program_assigned", "data": {"program_name": "Yoga"}}
    unsigned = api.call("POST", path, program)
    assert (unsigned.status, unsigned.error_code()) == (403, "iam_signature_needed")
    assert_documented("POST", SERVICE_ROUTE, unsigned)

    def signed(url: str, body: dict[str, Any]) -> Answer:
        return api.call("POST", url, body, headers={"authorization": SIGV4_AUTHORIZATION})

    answer = signed(path, program)
    assert answer.status == 202, answer.body
    assert_documented("POST", SERVICE_ROUTE, answer)
    assert signed(path, {"kind": "program_assigned", "data": {}}).status == 400
    missing = SERVICE_ROUTE.format(org_id=practice.id, client_id="cl_" + "0" * 24)
    assert signed(missing, {"kind": "goal_reminder", "data": {"goal_name": "x"}}).status == 404
    assert [e["kind"] for e in outbox(api)] == ["program_assigned"]


def test_b8_every_kind_of_the_catalogue_has_a_preview(api: Api, practice: Practice) -> None:
    api.patch(f"/v1/orgs/{practice.id}", {"branding": BRAND}, practice.admin_token)
    kinds = api.get(f"/v1/orgs/{practice.id}/email-previews", practice.admin_token).body["kinds"]
    assert set(NOTIFICATIONS) <= set(kinds)
    for kind in NOTIFICATIONS:
        answer = api.get(f"/v1/orgs/{practice.id}/email-previews/{kind}", practice.admin_token)
        assert answer.status == 200, kind
        assert "Sunrise Wellness" in answer.raw.decode(), kind
        assert KINDS[kind].feature == NOTIFICATIONS[kind].feature


def test_r17_r54_a_purchase_sends_the_buyer_a_receipt(api: Api, practice: Practice) -> None:
    slug = api.get(f"/v1/orgs/{practice.id}", practice.admin_token).body["org"]["slug"]
    buyer = {"email": "buyer@example.com", "first_name": "Bo", "last_name": "Buyer"}
    answer = api.post(f"/v1/public/orgs/{slug}/purchases", {**buyer, "package": "5 massages"})
    assert answer.status == 201, answer.body
    (receipt,) = [e for e in outbox(api) if e["kind"] == "payment_receipt"]
    assert receipt["to"] == "buyer@example.com"
    assert "Package: 5 massages" in receipt["text"]


def test_r36_r54_no_receipt_when_bills_are_off(api: Api, practice: Practice) -> None:
    settings = f"/v1/orgs/{practice.id}/portal-settings"
    bills_off = {"features": {"bills": False}}
    assert api.call("PUT", settings, bills_off, practice.admin_token).status == 200
    slug = api.get(f"/v1/orgs/{practice.id}", practice.admin_token).body["org"]["slug"]
    buyer = {"email": "buyer@example.com", "first_name": "Bo", "last_name": "Buyer"}
    assert api.post(f"/v1/public/orgs/{slug}/purchases", {**buyer, "package": "5"}).status == 201
    assert [e for e in outbox(api) if e["kind"] == "payment_receipt"] == []
    jobs = [j for j in EmailJob.by_org.query(practice.id) if j.kind == "payment_receipt"]
    assert [(j.status, j.reason) for j in jobs] == [("suppressed", "feature_off")]


def _property(schema: dict[str, Any]) -> dict[str, Any]:
    """A data field's JSON Schema reduced to what the document states (null as a type)."""
    if "anyOf" in schema:
        options = [o for o in schema["anyOf"] if o != {"type": "null"}]
        schema = {**options[0], **{k: v for k, v in schema.items() if k != "anyOf"}}
        schema["type"] = [schema["type"], "null"]
    keys = ("type", "format", "minLength", "maxLength", "minimum", "maximum", "pattern")
    flat = {key: schema[key] for key in keys if key in schema}
    if schema.get("default") is not None:
        flat["default"] = schema["default"]
    return flat


def test_r54_openapi_documents_the_catalogue_as_it_is() -> None:
    # R54: one catalogue; openapi.yaml names its kinds, their features and data schemas
    body = DOCUMENT["components"]["schemas"]["SendNotification"]
    assert body["properties"]["kind"]["enum"] == list(NOTIFICATIONS)
    assert body["properties"]["kind"]["x-features"] == {
        name: kind.feature for name, kind in NOTIFICATIONS.items()
    }
    refs = [option["$ref"].rsplit("/", 1)[-1] for option in body["properties"]["data"]["oneOf"]]
    assert refs == [f"{kind.data.__name__}Data" for kind in NOTIFICATIONS.values()]
    for kind in NOTIFICATIONS.values():
        own = kind.data.model_json_schema()
        documented = DOCUMENT["components"]["schemas"][f"{kind.data.__name__}Data"]
        assert documented["additionalProperties"] is False
        assert set(documented.get("required", [])) == set(own.get("required", [])), kind.name
        assert documented["properties"] == {
            field: _property(schema) for field, schema in own["properties"].items()
        }, kind.name
        kind.data.model_validate_json(json.dumps(kind.sample))  # the preview's sample fits


def test_r54_outside_the_local_stage_the_services_route_refuses_an_unsigned_call(
    api: Api, practice: Practice, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Defence in depth: were the route served without API Gateway's IAM check, no caller
    # without an IAM principal gets through
    client_id = add_client(api, practice, "Maya", "maya@example.com")
    monkeypatch.setattr(config, "STAGE", "prod")
    path = SERVICE_ROUTE.format(org_id=practice.id, client_id=client_id)
    answer = api.post(path, {"kind": "goal_reminder", "data": {"goal_name": "Walk"}})
    assert (answer.status, answer.error_code()) == (403, "iam_signature_needed")
    assert list(EmailJob.by_client.query(f"{practice.id}#{client_id}")) == []
