"""The deployment package (DESIGN "Packaging"): what `make package` builds is what the code needs.

`chalice package --merge-template` builds the template once per session (a few seconds; chalice
reuses its cached wheels). The tables it declares are compared with the tables PynamoDB creates
from the models (the local stack's path, moto in process), so a model and its deployed table
cannot drift; every template must be inside the zip, the email queue must dead-letter (R42) and
report batch failures, and the functions' policy must allow what the code calls and no more.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import botocore.client
import pytest

from chalicelib import aws, config
from chalicelib.models import TABLE_OWNERS, TTL_MODELS
from chalicelib.services import triggers
from chalicelib.services.email import delivery
from tests.support.api import Api, Practice, login
from tests.support.email import add_client, book, email_log

ROOT = Path(__file__).resolve().parent.parent
PROD_PREFIX = "portico-prod"
TEMPLATES = ROOT / "chalicelib" / "templates"

pytestmark = pytest.mark.package


def _pypi_reachable() -> bool:
    try:
        socket.create_connection(("pypi.org", 443), timeout=3).close()
    except OSError:
        return False
    return True


@pytest.fixture(scope="session")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`python -m scripts.package` (generate, chalice package, cfn-lint) into a temporary dir."""
    out = tmp_path_factory.mktemp("package")
    run = subprocess.run(  # noqa: S603 (our own interpreter and script)
        [sys.executable, "-m", "scripts.package", "--out", str(out), "--no-write"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if run.returncode != 0 and not _pypi_reachable():
        pytest.skip("chalice package needs PyPI (or PIP_FIND_LINKS) and PyPI is unreachable")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "cfn-lint" in run.stdout  # the template passed cfn-lint
    return out


@pytest.fixture(scope="session")
def template(packaged: Path) -> dict[str, Any]:
    return json.loads((packaged / "sam.json").read_text())


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def _short(table_name: str, prefix: str) -> str:
    return table_name.removeprefix(prefix + "-")


def test_the_committed_merge_template_and_policy_are_written_from_the_current_code() -> None:
    # DESIGN "Packaging": declared once; a new model in TABLE_OWNERS must reach the template
    run = subprocess.run(
        [sys.executable, "-m", "scripts.deploy_template", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def _described(table_name: str) -> dict[str, Any]:
    """What PynamoDB created for a model, as DynamoDB describes it, in the template's terms."""
    dynamodb = aws.client("dynamodb")
    table = dynamodb.describe_table(TableName=table_name)["Table"]
    ttl = dynamodb.describe_time_to_live(TableName=table_name)["TimeToLiveDescription"]
    return {
        "BillingMode": table["BillingModeSummary"]["BillingMode"],
        "KeySchema": sorted(table["KeySchema"], key=lambda k: k["KeyType"]),
        "AttributeDefinitions": sorted(
            table["AttributeDefinitions"], key=lambda d: d["AttributeName"]
        ),
        "GlobalSecondaryIndexes": sorted(
            (
                {
                    "IndexName": index["IndexName"],
                    "KeySchema": sorted(index["KeySchema"], key=lambda k: k["KeyType"]),
                    "Projection": index["Projection"],
                }
                for index in table.get("GlobalSecondaryIndexes", [])
            ),
            key=lambda i: i["IndexName"],
        ),
        "TimeToLive": ttl.get("AttributeName") if ttl["TimeToLiveStatus"] == "ENABLED" else None,
    }


def _declared(resource: dict[str, Any]) -> dict[str, Any]:
    properties = resource["Properties"]
    ttl = properties.get("TimeToLiveSpecification", {})
    return {
        "BillingMode": properties["BillingMode"],
        "KeySchema": sorted(properties["KeySchema"], key=lambda k: k["KeyType"]),
        "AttributeDefinitions": sorted(
            properties["AttributeDefinitions"], key=lambda d: d["AttributeName"]
        ),
        "GlobalSecondaryIndexes": sorted(
            properties.get("GlobalSecondaryIndexes", []), key=lambda i: i["IndexName"]
        ),
        "TimeToLive": ttl.get("AttributeName") if ttl.get("Enabled") else None,
    }


def test_the_templates_tables_are_the_tables_the_models_create(
    aws: None, template: dict[str, Any]
) -> None:
    # DESIGN "Packaging": keys, attribute definitions, every GSI with its projection, the TTL
    # attribute and on-demand billing, for every model in TABLE_OWNERS and no other table
    declared = {
        _short(r["Properties"]["TableName"], PROD_PREFIX): _declared(r)
        for r in _of_type(template, "AWS::DynamoDB::Table").values()
    }
    created = {
        _short(owner.Meta.table_name, config.TABLE_PREFIX): _described(owner.Meta.table_name)
        for owner in TABLE_OWNERS
    }
    assert set(declared) == set(created)
    for name, table in created.items():
        assert declared[name] == table, name
    with_ttl = {_short(m.Meta.table_name, config.TABLE_PREFIX) for m in TTL_MODELS}
    assert {name for name, table in declared.items() if table["TimeToLive"]} == with_ttl


def test_tables_survive_a_stack_update_or_deletion(template: dict[str, Any]) -> None:
    # R38: client records are never deleted, not even by removing the stack
    for name, table in _of_type(template, "AWS::DynamoDB::Table").items():
        assert (table["DeletionPolicy"], table["UpdateReplacePolicy"]) == ("Retain", "Retain"), name


def test_every_template_file_is_inside_the_deployment_zip(packaged: Path) -> None:
    # DESIGN "Packaging": Chalice ships only app.py, chalicelib/ and vendor/
    with zipfile.ZipFile(packaged / "deployment.zip") as archive:
        shipped = set(archive.namelist())
    files = [p.relative_to(ROOT).as_posix() for p in TEMPLATES.rglob("*") if p.is_file()]
    assert files
    missing = sorted(set(files) - shipped)
    assert not missing, f"templates missing from the deployment zip: {missing}"
    assert "app.py" in shipped


def test_the_email_queue_dead_letters_and_its_worker_reports_batch_failures(
    template: dict[str, Any],
) -> None:
    # R42, DESIGN "Known traps": only failed messages return; after N receives, the DLQ
    queues = _of_type(template, "AWS::SQS::Queue")
    email, dead = queues["EmailQueue"]["Properties"], queues["EmailDeadLetterQueue"]["Properties"]
    assert email["QueueName"] == f"{PROD_PREFIX}-email"
    assert dead["QueueName"] == f"{PROD_PREFIX}-email-dead"
    assert email["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["EmailDeadLetterQueue", "Arn"]},
        "maxReceiveCount": config.EMAIL_MAX_RECEIVES,
    }
    functions = _of_type(template, "AWS::Serverless::Function")
    sqs_events = [
        event["Properties"]
        for function in functions.values()
        for event in function["Properties"].get("Events", {}).values()
        if event["Type"] == "SQS"
    ]
    assert sqs_events
    for function in functions.values():
        answers_failures = function["Properties"]["Environment"]["Variables"].get(
            "EMAIL_WORKER_REPORTS_FAILURES"
        )
        has_sqs = any(e["Type"] == "SQS" for e in function["Properties"].get("Events", {}).values())
        assert answers_failures == ("true" if has_sqs else None)  # the worker answers, not raises
    for event in sqs_events:
        assert event["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert event["Queue"]["Fn::Sub"].endswith(":" + email["QueueName"])
        # Visibility outlasts the worker, so a batch in progress is not delivered again.
    assert email["VisibilityTimeout"] >= max(f["Properties"]["Timeout"] for f in functions.values())


def test_every_function_is_pointed_at_the_templates_tables_and_queues(
    template: dict[str, Any],
) -> None:
    # chalicelib/config.py reads these: the same code runs against these resources
    tables = [
        t["Properties"]["TableName"] for t in _of_type(template, "AWS::DynamoDB::Table").values()
    ]
    queues = _of_type(template, "AWS::SQS::Queue")
    for name, function in _of_type(template, "AWS::Serverless::Function").items():
        env = function["Properties"]["Environment"]["Variables"]
        assert env["PORTICO_STAGE"] == "prod", name
        assert all(t.startswith(env["TABLE_PREFIX"] + "-") for t in tables), name
        assert env["EMAIL_QUEUE"] == queues["EmailQueue"]["Properties"]["QueueName"], name
        dead = queues["EmailDeadLetterQueue"]["Properties"]["QueueName"]
        assert env["EMAIL_DEAD_LETTER_QUEUE"] == dead, name
        assert int(env["EMAIL_MAX_RECEIVES"]) == config.EMAIL_MAX_RECEIVES, name


def _statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    roles = _of_type(template, "AWS::IAM::Role")
    policies = [
        policy["PolicyDocument"]
        for role in roles.values()
        for policy in role["Properties"]["Policies"]
    ]
    assert policies
    assert all(p == policies[0] for p in policies)  # every function: the one policy
    return policies[0]["Statement"]


def test_the_policy_names_exactly_the_templates_tables_indexes_and_queues(
    template: dict[str, Any],
) -> None:
    # Least privilege: no wildcard action, no other table, no Scan
    statements = {s["Sid"]: s for s in _statements(template)}
    for statement in statements.values():
        assert all("*" not in action for action in statement["Action"]), statement
    tables = _of_type(template, "AWS::DynamoDB::Table").values()
    names = sorted(t["Properties"]["TableName"] for t in tables)
    assert statements["Tables"]["Resource"] == [f"arn:aws:dynamodb:*:*:table/{n}" for n in names]
    indexes = sorted(
        f"arn:aws:dynamodb:*:*:table/{t['Properties']['TableName']}/index/{i['IndexName']}"
        for t in tables
        for i in t["Properties"].get("GlobalSecondaryIndexes", [])
    )
    assert statements["Indexes"]["Resource"] == indexes
    assert statements["Indexes"]["Action"] == ["dynamodb:Query"]
    assert "dynamodb:Scan" not in statements["Tables"]["Action"]
    queues = {q["Properties"]["QueueName"] for q in _of_type(template, "AWS::SQS::Queue").values()}
    queue_arns = {statements[s]["Resource"] for s in ("EmailQueue", "EmailDeadLetterQueue")}
    assert queue_arns == {f"arn:aws:sqs:*:*:{q}" for q in queues}
    assert statements["SendEmail"]["Action"] == ["ses:SendEmail", "ses:SendRawEmail"]


# IAM authorizes the batch calls as their single forms, a transaction as each item's action.
AUTHORIZED_AS = {"SendMessageBatch": "SendMessage", "DeleteMessageBatch": "DeleteMessage"}
IN_TRANSACTION = {
    "ConditionCheck": "ConditionCheckItem",
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
}


def test_the_policy_allows_every_call_the_deployed_code_makes(
    api: Api, practice: Practice, template: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A policy too narrow fails in production only: sign-in, clients, a booking, its email
    # through the worker, the sweep and the scheduled triggers, every AWS call recorded
    made: set[str] = set()
    original = botocore.client.BaseClient._make_api_call

    def recording(client: Any, operation: str, params: dict[str, Any]) -> Any:
        service = client.meta.service_model.service_name
        if operation == "TransactWriteItems":
            made.update(f"dynamodb:{IN_TRANSACTION[k]}" for i in params["TransactItems"] for k in i)
        else:
            made.add(f"{service}:{AUTHORIZED_AS.get(operation, operation)}")
        return original(client, operation, params)

    sqs = aws.client("sqs")
    url = aws.queue_url(config.EMAIL_QUEUE)
    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
    client_id = add_client(api, practice, "Ana", "ana@example.com")
    client = f"/v1/orgs/{practice.id}/clients/{client_id}"
    assert api.patch(client, {"last_name": "B"}, practice.admin_token).status == 200
    book(api, practice, [client_id])
    assert login(api, practice.admin_email).status == 200
    assert api.get(f"/v1/orgs/{practice.id}/clients", practice.admin_token).status == 200
    made.discard("sqs:ReceiveMessage")  # the test's own receive stands for Lambda's
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    records = [delivery.Record(m["MessageId"], m["Body"], m["ReceiptHandle"]) for m in received]
    delivery.process_batch(records, delivery.SesSender())
    triggers.run_all()
    assert {e["status"] for e in email_log(api, practice)} == {"sent"}
    assert api.post(f"{client}/archive", None, practice.admin_token).status == 200
    allowed = {a for s in _statements(template) for a in s["Action"]}
    missing = sorted(made - allowed)
    assert not missing, f"the code calls what the policy does not allow: {missing}"


def test_portico_modules_ship_as_bytecode_the_runtime_loads_without_compiling(
    packaged: Path, tmp_path: Path
) -> None:
    # Cold starts (README "Benchmarks"): Lambda cannot cache compiled code in its read-only
    # /var/task, so the zip carries each of Portico's modules as unchecked-hash bytecode. Checked
    # by importing from the unpacked zip with the source files emptied: only the bytecode can
    # give `app` its routes then.
    with zipfile.ZipFile(packaged / "deployment.zip") as archive:
        shipped = set(archive.namelist())
        sources = [
            n for n in shipped if n.endswith(".py") and n.split("/")[0] in {"app.py", "chalicelib"}
        ]
        assert "app.py" in sources
        for name in sources:
            assert importlib.util.cache_from_source(name) in shipped, name
        archive.extractall(
            tmp_path,
            [n for n in shipped if n.startswith(("app.", "__pycache__/app.", "chalicelib/"))],
        )
    for name in sources:
        (tmp_path / name).write_text("raise ImportError('compiled from source')\n")
    loaded = subprocess.run(
        [sys.executable, "-c", "import app; print(len(app.app.routes))"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    assert int(loaded.stdout.strip()) > 40
