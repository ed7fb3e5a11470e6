"""The deployment's own infrastructure, written from the code so the two cannot drift.

`chalice package` creates the functions, the API and the schedules; it does not create the
tables, the queues nor a least-privilege policy (DESIGN "Packaging"). This script writes them
from what the code declares, for the prod stage of .chalice/config.json:

- deploy/resources.json, the template merged by `chalice package --merge-template`: one
  DynamoDB table per model in `TABLE_OWNERS` (keys, every GSI with its projection, the TTL of
  `TTL_MODELS`, on-demand billing), the email queue and its dead-letter queue with the redrive
  of `config.EMAIL_MAX_RECEIVES` (R42), and `ReportBatchItemFailures` on every SQS event source
  Chalice generates (DESIGN "Known traps").
- .chalice/policy-prod.json, the one policy of every function (`autogen_policy: false`): only
  the DynamoDB, SQS and SES actions the code calls, on exactly these tables, indexes and queues.

A new table needs only its model in `TABLE_OWNERS`; `make package` rewrites both files and
tests/test_deployment.py fails while the committed ones are stale.

    .venv/bin/python -m scripts.deploy_template [--check]
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
STAGE = "prod"
MERGE_TEMPLATE = ROOT / "deploy" / "resources.json"
POLICY = ROOT / ".chalice" / f"policy-{STAGE}.json"

# What the code calls (chalicelib/db.py, PynamoDB models, services/outbox.py, delivery.py,
# aws.py). TransactWriteItems needs the rights of each item action it carries, ConditionCheckItem
# included; BatchGetItem is PynamoDB's batch_get. No Scan: no request path scans (DESIGN "Data").
DYNAMODB_ACTIONS = (
    "dynamodb:BatchGetItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DeleteItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "dynamodb:UpdateItem",
)
INDEX_ACTIONS = ("dynamodb:Query",)
# SendMessageBatch and DeleteMessageBatch are authorized as SendMessage and DeleteMessage.
# ReceiveMessage, DeleteMessage and GetQueueAttributes are what Lambda's SQS event source needs.
EMAIL_QUEUE_ACTIONS = (
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
    "sqs:ReceiveMessage",
    "sqs:SendMessage",
)
# The outbox sweep reads the dead-letter queue and ends its jobs `dead` (R42).
DEAD_LETTER_ACTIONS = ("sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage")
SES_ACTIONS = ("ses:SendEmail", "ses:SendRawEmail")
LOG_ACTIONS = ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents")
DEAD_LETTER_RETENTION_SECONDS = 14 * 24 * 3600  # SQS's maximum: time to look at a dead job
# SQS's advice: six times the function's timeout, so a batch being worked is not redelivered.
WORKER_TIMEOUT_SECONDS = 60


def stage_environment() -> dict[str, str]:
    """The prod stage's environment variables, as chalice sets them for the functions."""
    chalice_config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    return {
        **chalice_config.get("environment_variables", {}),
        **chalice_config["stages"][STAGE].get("environment_variables", {}),
    }


def _load_code() -> tuple[Any, Any, Any, Any]:
    """Import the app in the prod stage's configuration (read once, at import)."""
    os.environ.update(stage_environment())
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    from chalice.utils import to_cfn_resource_name  # noqa: PLC0415

    import app  # noqa: PLC0415
    from chalicelib import config, models  # noqa: PLC0415

    assert config.STAGE == STAGE, f"configuration read for {config.STAGE}, not {STAGE}"
    return app.app, config, models, to_cfn_resource_name


def logical_id(table_name: str, prefix: str) -> str:
    short = table_name.removeprefix(prefix + "-")
    return "".join(part.capitalize() for part in short.replace("_", "-").split("-")) + "Table"


def table_resource(owner: Any, ttl_attribute: str | None) -> dict[str, Any]:
    """One AWS::DynamoDB::Table as PynamoDB would create it (`Model.create_table`)."""
    schema = owner._get_schema()
    properties: dict[str, Any] = {
        "TableName": owner.Meta.table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": sorted(
            schema["attribute_definitions"], key=lambda d: d["AttributeName"]
        ),
        "KeySchema": sorted(schema["key_schema"], key=lambda k: k["KeyType"]),  # HASH, RANGE
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        "SSESpecification": {"SSEEnabled": True},
    }
    indexes = sorted(schema["global_secondary_indexes"], key=lambda i: i["index_name"])
    if indexes:
        properties["GlobalSecondaryIndexes"] = [
            {
                "IndexName": index["index_name"],
                "KeySchema": sorted(index["key_schema"], key=lambda k: k["KeyType"]),
                "Projection": index["projection"],
            }
            for index in indexes
        ]
    if schema["local_secondary_indexes"]:
        raise SystemExit(f"{owner.__name__}: local secondary indexes are not templated yet")
    if ttl_attribute:
        properties["TimeToLiveSpecification"] = {
            "AttributeName": ttl_attribute,
            "Enabled": True,
        }
    # Client data: a stack update or deletion must never drop a table.
    return {
        "Type": "AWS::DynamoDB::Table",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": properties,
    }


def ttl_attributes(models: Any) -> dict[str, str]:
    found: dict[str, str] = {}
    for model in models.TTL_MODELS:
        name = model.Meta.table_name
        attribute = model._ttl_attribute().attr_name
        if found.setdefault(name, attribute) != attribute:
            raise SystemExit(f"{name}: two TTL attributes ({found[name]}, {attribute})")
    return found


def merge_template() -> dict[str, Any]:
    chalice_app, config, models, cfn_name = _load_code()
    ttl = ttl_attributes(models)
    resources: dict[str, Any] = {}
    for owner in models.TABLE_OWNERS:
        name = owner.Meta.table_name
        resources[logical_id(name, config.TABLE_PREFIX)] = table_resource(owner, ttl.get(name))
    missing = set(ttl) - {owner.Meta.table_name for owner in models.TABLE_OWNERS}
    if missing:
        raise SystemExit(f"TTL_MODELS name tables no TABLE_OWNERS model owns: {sorted(missing)}")
    resources["EmailDeadLetterQueue"] = {
        "Type": "AWS::SQS::Queue",
        "Properties": {
            "QueueName": config.EMAIL_DEAD_LETTER_QUEUE,
            "MessageRetentionPeriod": DEAD_LETTER_RETENTION_SECONDS,
            "SqsManagedSseEnabled": True,
        },
    }
    resources["EmailQueue"] = {
        "Type": "AWS::SQS::Queue",
        "Properties": {
            "QueueName": config.EMAIL_QUEUE,
            "VisibilityTimeout": 6 * WORKER_TIMEOUT_SECONDS,
            "SqsManagedSseEnabled": True,
            "RedrivePolicy": {
                "deadLetterTargetArn": {"Fn::GetAtt": ["EmailDeadLetterQueue", "Arn"]},
                "maxReceiveCount": config.EMAIL_MAX_RECEIVES,
            },
        },
    }
    for source in chalice_app.event_sources:
        if type(source).__name__ != "SQSEventConfig":
            continue
        function = cfn_name(source.name)
        resources[function] = {
            # The queue exists before Lambda maps it to the function.
            "DependsOn": ["EmailQueue"],
            "Properties": {
                # Tells the worker to answer its failures rather than raise (config.py).
                "Environment": {"Variables": {"EMAIL_WORKER_REPORTS_FAILURES": "true"}},
                "Events": {
                    f"{function}SqsEventSource": {
                        "Properties": {"FunctionResponseTypes": ["ReportBatchItemFailures"]}
                    }
                },
            },
        }
    return {"Resources": resources}


def policy() -> dict[str, Any]:
    _, config, models, _ = _load_code()
    tables, indexes = [], []
    for owner in models.TABLE_OWNERS:
        name = owner.Meta.table_name
        tables.append(f"arn:aws:dynamodb:*:*:table/{name}")
        indexes += [
            f"arn:aws:dynamodb:*:*:table/{name}/index/{index['index_name']}"
            for index in owner._get_schema()["global_secondary_indexes"]
        ]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Logs",
                "Effect": "Allow",
                "Action": list(LOG_ACTIONS),
                "Resource": "arn:aws:logs:*:*:*",
            },
            {
                "Sid": "Tables",
                "Effect": "Allow",
                "Action": list(DYNAMODB_ACTIONS),
                "Resource": sorted(tables),
            },
            {
                "Sid": "Indexes",
                "Effect": "Allow",
                "Action": list(INDEX_ACTIONS),
                "Resource": sorted(indexes),
            },
            {
                "Sid": "EmailQueue",
                "Effect": "Allow",
                "Action": list(EMAIL_QUEUE_ACTIONS),
                "Resource": f"arn:aws:sqs:*:*:{config.EMAIL_QUEUE}",
            },
            {
                "Sid": "EmailDeadLetterQueue",
                "Effect": "Allow",
                "Action": list(DEAD_LETTER_ACTIONS),
                "Resource": f"arn:aws:sqs:*:*:{config.EMAIL_DEAD_LETTER_QUEUE}",
            },
            {
                # SES authorizes by identity ARN, which the account's verified domain decides;
                # the sender address is pinned instead.
                "Sid": "SendEmail",
                "Effect": "Allow",
                "Action": list(SES_ACTIONS),
                "Resource": "*",
                "Condition": {"StringEquals": {"ses:FromAddress": config.MAIL_FROM_ADDRESS}},
            },
        ],
    }


def rendered() -> dict[Path, str]:
    return {
        MERGE_TEMPLATE: json.dumps(merge_template(), indent=2) + "\n",
        POLICY: json.dumps(policy(), indent=2) + "\n",
    }


def main() -> None:
    check = "--check" in sys.argv[1:]
    stale = []
    for path, text in rendered().items():
        if path.exists() and path.read_text() == text:
            continue
        if check:
            stale.append(str(path.relative_to(ROOT)))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
    if stale:
        raise SystemExit(f"stale, run `python -m scripts.deploy_template`: {stale}")


if __name__ == "__main__":
    main()
