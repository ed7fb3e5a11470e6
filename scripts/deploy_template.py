"""The deployment's own infrastructure, written from the code so the two cannot drift.

`chalice package` creates the functions, the API and the schedules; it does not create the
tables, the queues, the log groups nor a least-privilege role per function (DESIGN
"Packaging"). This script writes them from what the code declares, for the prod stage of
.chalice/config.json:

- deploy/resources.json, the template merged by `chalice package --merge-template`:
  - Parameters: the URLs, the sender, the secrets' SSM parameter names, log retention, the
    API's throttling, the email worker's concurrency, an alarm topic and a tables' KMS key;
  - one DynamoDB table per model in `TABLE_OWNERS` (keys, every GSI with its projection, the
    TTL of `TTL_MODELS`, on-demand billing, the optional customer-managed key);
  - the email queue and its dead-letter queue with the redrive of `config.EMAIL_MAX_RECEIVES`
    (R42), `ReportBatchItemFailures` and a bounded concurrency on the worker's event source;
  - every function's environment, memory, X-Ray tracing and its own log group with a retention;
  - the API stage's access log (no tokens), X-Ray, throttling and GatewayResponses in the
    contract's error shape; alarms on dead jobs, the dead-letter queue and worker errors;
  - the KMS key that seals the links and codes of unsent emails (R53, chalicelib/sealing.py).
- .chalice/policy-prod-<function>.json, one policy per function (`autogen_policy: false`,
  `lambda_functions` in .chalice/config.json): only what that function's code calls, on exactly
  these tables, indexes, queues, log group, secrets and sealing key (`FUNCTIONS`).

A new table needs only its model in `TABLE_OWNERS` (and its name in the `FUNCTIONS` that touch
it); `make package` rewrites the files and tests/test_deployment.py fails while the committed
ones are stale.

    .venv/bin/python -m scripts.deploy_template [--check]
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
STAGE = "prod"
MERGE_TEMPLATE = ROOT / "deploy" / "resources.json"


def policy_path(function: str) -> Path:
    return ROOT / ".chalice" / f"policy-{STAGE}-{function}.json"


# What the code calls (chalicelib/db.py, PynamoDB models, services/outbox.py, delivery.py,
# aws.py). TransactWriteItems needs the rights of each item action it carries, ConditionCheckItem
# included; BatchGetItem is PynamoDB's batch_get. No Scan: no request path scans (DESIGN "Data").
READ_ACTIONS = (
    "dynamodb:BatchGetItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:GetItem",
    "dynamodb:Query",
)
WRITE_ACTIONS = ("dynamodb:DeleteItem", "dynamodb:PutItem", "dynamodb:UpdateItem")
INDEX_ACTIONS = ("dynamodb:Query",)
# SendMessageBatch and DeleteMessageBatch are authorized as SendMessage and DeleteMessage.
QUEUE_SEND = ("sqs:GetQueueUrl", "sqs:SendMessage")
# What Lambda's SQS event source needs of the worker's role, and the worker's own deletes.
QUEUE_CONSUME = ("sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage")
# The outbox sweep reads the dead-letter queue and ends its jobs `dead` (R42).
DEAD_LETTER_ACTIONS = ("sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage")
# The worker hands the sweep a job that failed every delivery across the sweep's resends (R42).
DEAD_LETTER_SEND = ("sqs:GetQueueUrl", "sqs:SendMessage")
SES_ACTIONS = ("ses:SendEmail", "ses:SendRawEmail")
# The function's own log group exists (the template makes it), so no CreateLogGroup.
LOG_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents")
# Tracing: Active sends segments; X-Ray has no resource-level permissions.
TRACE_ACTIONS = ("xray:PutTelemetryRecords", "xray:PutTraceSegments")
SECRET_ACTIONS = ("ssm:GetParameter",)
# R53 (chalicelib/sealing.py): the requests that issue a link or code seal it, the worker opens
# it while rendering; the follow-up schedule copies the sealed value and needs neither.
SEAL = ("kms:Encrypt",)
OPEN = ("kms:Decrypt",)
ALL = ("*",)  # every table of TABLE_OWNERS


@dataclass(frozen=True)
class Grants:
    """What one function's code calls, and so all its role allows (README "Roles")."""

    reads: tuple[str, ...]  # tables (short names) it reads, with their indexes
    writes: tuple[str, ...] = ()  # tables it writes
    queue: tuple[str, ...] = QUEUE_SEND  # the email queue
    dead_letters: bool = False  # reads and buries the dead-letter queue (the sweep)
    dead_lettering: bool = False  # sends a job that failed every delivery to it (the worker)
    ses_feedback: bool = False  # consumes SES's bounce and complaint events (R54)
    sends_email: bool = False
    secrets: tuple[str, ...] = ()  # keys of config.SECRET_PARAMETERS
    sealing: tuple[str, ...] = ()  # on the secrets key (R53): SEAL, OPEN
    memory_mb: int = 256
    timeout: int | None = None


# Memory (README "Sizing"): Lambda's CPU share is proportional to memory (1,769 MB = one vCPU).
# The API checks passwords (Argon2id, scripts/bench_passwords.py) and renders pages; 1,024 MB
# gives a sign-in's hash about 0.58 of a vCPU. The worker renders Jinja2 and inlines CSS; the
# schedules Query and queue.
API_MEMORY_MB = 1024
WORKER_MEMORY_MB = 512
# SQS's advice: six times the function's timeout, so a batch being worked is not redelivered.
WORKER_TIMEOUT_SECONDS = 60
FUNCTIONS: dict[str, Grants] = {
    # Every route: all tables; queues email jobs (R39) and never sends (the worker does).
    # Seals the link or code of each invite, reset, passcode and caregiver invite (R53).
    "api_handler": Grants(
        reads=ALL, writes=ALL, secrets=("page",), sealing=SEAL, memory_mb=API_MEMORY_MB
    ),
    # delivery.py, copies.py, branding.py: the job, its organization and group, the identity
    # and profile it goes to, the token its link needs (R43), the copy holders (R29); it
    # writes only email jobs (the outcome, copies), queues the copies, and hands the
    # dead-letter queue a job that failed every delivery (R42); it opens the sealed link or
    # code it renders (R53).
    "email_worker": Grants(
        reads=("emails", "identities", "links", "orgs", "profiles", "tokens"),
        writes=("emails",),
        queue=(*QUEUE_SEND, *QUEUE_CONSUME),
        dead_lettering=True,
        sends_email=True,
        sealing=OPEN,
        memory_mb=WORKER_MEMORY_MB,
        timeout=WORKER_TIMEOUT_SECONDS,
    ),
    # feedback.py, suppressions.py (R54): the job an event names, the address's suppression;
    # it writes both (emails table) and reads only its own queue.
    "ses_feedback": Grants(reads=("emails",), writes=("emails",), queue=(), ses_feedback=True),
    # outbox.py: open jobs again, dead letters buried (R42).
    "outbox_sweep": Grants(reads=("emails",), writes=("emails",), dead_letters=True),
    # appointments.send_due_reminders (R44): the reminder, its appointment, provider, clients.
    # Each trigger keeps its checkpoint in the emails table (issue #18).
    "appointment_reminders": Grants(
        reads=("appointments", "emails", "orgs", "profiles"), writes=("appointments", "emails")
    ),
    # caregiver_grants.remind_ending_grants (B5).
    "caregiver_grants_ending": Grants(
        reads=("emails", "links", "orgs", "profiles"), writes=("emails", "links")
    ),
    # follow_ups.send_due_follow_ups (R14): the token, its client and organization; a new link
    # and its email, the link sealed (R53); audited.
    "invite_follow_ups": Grants(
        reads=("emails", "orgs", "profiles", "tokens"),
        writes=("audit", "emails", "tokens"),
        sealing=SEAL,
    ),
}
DEAD_LETTER_RETENTION_SECONDS = 14 * 24 * 3600  # SQS's maximum: time to look at a dead job
# R54: SES's events come back through SNS into this queue; an event that keeps failing is kept
# in its dead-letter queue. `Send` joins MATCHING_EVENTS when its handler lands (feedback.py).
# `send` lets a job SES accepted be marked sent if its worker died before writing it (#18).
FEEDBACK_MATCHING_EVENTS = ["send", "bounce", "complaint"]
FEEDBACK_MAX_RECEIVES = 5
FEEDBACK_TIMEOUT_SECONDS = 30

# Set while the code is imported to read its declarations: a non-local stage refuses to start
# without them (config.problems). They reach no template: the functions' values are the
# template's Parameters.
PACKAGING_ENVIRONMENT = {
    "PUBLIC_URL": "https://packaging.invalid",
    "PORTAL_URL": "https://packaging.invalid/portal",
    "MAIL_FROM_ADDRESS": "packaging@packaging.invalid",
    "PAGE_SECRET_PARAMETER": "/packaging/page-secret",
    "SECRETS_KEY_ID": "arn:aws:kms:us-east-1:000000000000:key/packaging",
}


def stage_environment() -> dict[str, str]:
    """The prod stage's environment variables, as chalice sets them for the functions."""
    chalice_config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    return {
        **chalice_config.get("environment_variables", {}),
        **chalice_config["stages"][STAGE].get("environment_variables", {}),
    }


def _load_code() -> tuple[Any, Any, Any, Any]:
    """Import the app in the prod stage's configuration (read once, at import)."""
    os.environ.update({**PACKAGING_ENVIRONMENT, **stage_environment()})
    os.environ.pop("PAGE_SECRET", None)
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
        # Health data: AWS-owned encryption always; a customer-managed key when one is given.
        "SSESpecification": {
            "Fn::If": [
                "HasTablesKmsKey",
                {
                    "SSEEnabled": True,
                    "SSEType": "KMS",
                    "KMSMasterKeyId": {"Ref": "TablesKmsKeyArn"},
                },
                {"SSEEnabled": True},
            ]
        },
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


# CloudFormation's Parameters: a deploy names its own URLs, sender, secrets and limits.
PARAMETERS: dict[str, dict[str, Any]] = {
    "PublicUrl": {
        "Type": "String",
        "Description": "The API's public base URL: links in emails point here (https://...)",
        "AllowedPattern": "^https://[^\\s]+$",
    },
    "PortalUrl": {
        "Type": "String",
        "Description": "The Client Portal's URL, where landing pages send a person signed in",
        "AllowedPattern": "^https://[^\\s]+$",
    },
    "MailFromAddress": {
        "Type": "String",
        "Description": "The sender: an SES-verified address; the worker may send from it only",
        "AllowedPattern": "^[^@\\s]+@[^@\\s]+$",
    },
    "PageSecretParameter": {
        "Type": "String",
        "Description": "Name of the SSM SecureString parameter holding the pages' CSRF key",
        "Default": "/portico/prod/page-secret",
        "AllowedPattern": "^/[A-Za-z0-9_./-]+$",
    },
    "LogRetentionDays": {
        "Type": "Number",
        "Description": "Days every log group keeps its logs",
        "Default": 90,
        "AllowedValues": [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827],
    },
    "ApiThrottlingRateLimit": {
        "Type": "Number",
        "Description": "The API stage's steady requests per second, across all clients",
        "Default": 100,
        "MinValue": 1,
    },
    "ApiThrottlingBurstLimit": {
        "Type": "Number",
        "Description": "The API stage's burst of requests above the steady rate",
        "Default": 200,
        "MinValue": 1,
    },
    "EmailWorkerMaxConcurrency": {
        "Type": "Number",
        "Description": (
            "Email workers at once (SQS maximum concurrency, 2 at least): each sends about "
            "10-20 emails a second, so keep it within the account's SES send rate"
        ),
        "Default": 2,
        "MinValue": 2,
        "MaxValue": 1000,
    },
    "AlarmTopicArn": {
        "Type": "String",
        "Description": "An SNS topic the alarms notify (empty: alarms without actions)",
        "Default": "",
    },
    "TablesKmsKeyArn": {
        "Type": "String",
        "Description": "A customer-managed KMS key for the tables (empty: AWS-owned key)",
        "Default": "",
    },
}
CONDITIONS = {
    "HasAlarmTopic": {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmTopicArn"}, ""]}]},
    "HasTablesKmsKey": {"Fn::Not": [{"Fn::Equals": [{"Ref": "TablesKmsKeyArn"}, ""]}]},
}
# What config.py reads from the template, the same in every function (each imports the app).
FUNCTION_ENVIRONMENT = {
    "PUBLIC_URL": {"Ref": "PublicUrl"},
    "PORTAL_URL": {"Ref": "PortalUrl"},
    "MAIL_FROM_ADDRESS": {"Ref": "MailFromAddress"},
    "PAGE_SECRET_PARAMETER": {"Ref": "PageSecretParameter"},
    "SECRETS_KEY_ID": {"Fn::GetAtt": ["SecretsKey", "Arn"]},
    # R54: every send goes through it, so its bounces and complaints come back.
    "SES_CONFIGURATION_SET": {"Ref": "EmailEventsConfigurationSet"},
}
SECRET_PARAMETER_OF = {"page": "PageSecretParameter"}  # config.SECRET_PARAMETERS → Parameters
# The API's access log: who asked what of which route, and the answer. The route template
# (`resourcePath`), never the path: links carry their secret in the path (`/invite/{token}`);
# no query string and no header (Authorization holds a session).
ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId",
    "requestTime": "$context.requestTime",
    "sourceIp": "$context.identity.sourceIp",
    "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "integrationLatency": "$context.integrationLatency",
    "errorType": "$context.error.responseType",
    "xrayTraceId": "$context.xrayTraceId",
}
# API Gateway's own answers (before or instead of the function) in the contract's error shape
# (API.md, chalicelib/errors.py). An unknown path is a 404 `not_found`, as the app answers one.
GATEWAY_RESPONSES: dict[str, tuple[str | None, str, str]] = {
    # type: (status, or None to keep API Gateway's; code; message as a JSON value)
    "MISSING_AUTHENTICATION_TOKEN": ("404", "not_found", '"No such path."'),
    "RESOURCE_NOT_FOUND": ("404", "not_found", '"No such path."'),
    "THROTTLED": (None, "throttled", '"Too many requests. Wait a moment, then try again."'),
    "REQUEST_TOO_LARGE": (None, "body_too_large", '"The request body is too large."'),
    "DEFAULT_4XX": (None, "request_refused", "$context.error.messageString"),
    "DEFAULT_5XX": (None, "internal_error", '"Something went wrong on our side; try again."'),
}
# checkov's findings this template answers otherwise, each with its reason (Metadata on the
# resource, where checkov reads it; `make package` runs checkov).
CHECKOV_SKIPS: dict[str, dict[str, str]] = {
    "function": {
        "CKV_AWS_116": "No function is invoked asynchronously by a caller that loses work: the "
        "API answers synchronously, the worker's queue has its dead-letter queue, and each "
        "schedule runs again on its next tick (R42, R44)",
        "CKV_AWS_117": "Reaches only DynamoDB, SQS, SES and SSM, over their public endpoints "
        "with IAM; no VPC resource to reach",
        "CKV_AWS_173": "The environment holds no secret: names of tables, queues and the SSM "
        "parameters that hold the secrets (secret_store.py)",
        "CKV_AWS_115": "Reserved concurrency would take from the account's pool; the worker is "
        "bounded by its SQS event source's MaximumConcurrency (EmailWorkerMaxConcurrency), "
        "the API by the stage's throttling",
    },
    "log_group": {
        "CKV_AWS_158": "Log lines carry ids only (R48); CloudWatch Logs encrypts them at rest",
    },
    "api": {
        "CKV_AWS_120": "Answers are per session and must not be cached",
    },
    "queue": {
        "CKV_AWS_27": "SQS-managed encryption (SqsManagedSseEnabled); messages carry job ids only",
    },
    "topic": {
        "CKV_AWS_26": "SES publishes to it, which an SSE topic allows only with a customer "
        "key whose policy admits SES; it carries SES's events, delivered at once to an "
        "SQS-encrypted queue",
    },
    "table": {
        "CKV_AWS_119": "The TablesKmsKeyArn parameter turns on a customer-managed key; "
        "without one, tables use DynamoDB's AWS-owned key",
    },
}


def _skips(kind: str) -> dict[str, Any]:
    return {
        "checkov": {
            "skip": [{"id": check, "comment": why} for check, why in CHECKOV_SKIPS[kind].items()]
        }
    }


def function_names(chalice_app: Any, cfn_name: Any) -> dict[str, str]:
    """Chalice's function names to their logical ids in its template (the API's is fixed)."""
    names = {"api_handler": "APIHandler"}
    for source in chalice_app.event_sources:
        names[source.name] = cfn_name(source.name)
    return names


def log_group_id(logical: str) -> str:
    return f"{logical}LogGroup"


def _api() -> dict[str, Any]:
    return {
        "Metadata": _skips("api"),
        "Properties": {
            "TracingEnabled": True,
            "AccessLogSetting": {
                "DestinationArn": {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]},
                "Format": json.dumps(ACCESS_LOG_FORMAT, separators=(",", ":")),
            },
            "MethodSettings": [
                {
                    "ResourcePath": "/*",
                    "HttpMethod": "*",
                    "ThrottlingRateLimit": {"Ref": "ApiThrottlingRateLimit"},
                    "ThrottlingBurstLimit": {"Ref": "ApiThrottlingBurstLimit"},
                    "MetricsEnabled": True,
                    "DataTraceEnabled": False,
                    "LoggingLevel": "OFF",
                }
            ],
            "GatewayResponses": {
                kind: {
                    **({"StatusCode": status} if status else {}),
                    "ResponseTemplates": {
                        "application/json": (
                            f'{{"error": {{"code": "{code}", "message": {message}}}}}'
                        )
                    },
                }
                for kind, (status, code, message) in GATEWAY_RESPONSES.items()
            },
        },
    }


def secrets_key() -> dict[str, Any]:
    """R53: the key that seals each link or code until its email is sent. The account's IAM
    decides who uses it (each function's role: `Grants.sealing`); rotated yearly; kept when
    the stack goes, since an unsent email's link exists only under it."""
    return {
        "Type": "AWS::KMS::Key",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": {
            "Description": "Portico: the links and codes of unsent emails (R53)",
            "EnableKeyRotation": True,
            "KeyPolicy": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "AccountIam",
                        "Effect": "Allow",
                        "Principal": {
                            "AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}
                        },
                        "Action": "kms:*",
                        "Resource": "*",
                    }
                ],
            },
        },
    }


def _alarm(description: str, metric: dict[str, Any], evaluation_periods: int) -> dict[str, Any]:
    return {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "AlarmDescription": description,
            **metric,
            "Period": 300,
            "EvaluationPeriods": evaluation_periods,
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "TreatMissingData": "notBreaching",
            "AlarmActions": {
                "Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]
            },
        },
    }


def alarms(config: Any, functions: dict[str, str]) -> dict[str, Any]:
    return {
        # The sweep buries dead letters every minute (R42): each is a job that will never be
        # sent, and one left in the queue for 15 minutes means the sweep itself is failing.
        "EmailsDeadAlarm": _alarm(
            "An email job ended dead (R42): its email was never sent",
            {
                "Namespace": config.METRICS_NAMESPACE,
                "MetricName": "EmailsDead",
                "Dimensions": [
                    {"Name": "service", "Value": config.SERVICE},
                    {"Name": "stage", "Value": config.STAGE},
                ],
                "Statistic": "Sum",
            },
            1,
        ),
        # Issue #18: a reminder or follow-up recorded `missed` means a trigger was stopped past
        # its moment (a disabled rule, a failed deploy): it caught up, but someone must know.
        "ScheduledEmailsMissedAlarm": _alarm(
            "A scheduled email was missed: a trigger was stopped past its moment (R43, R44)",
            {
                "Namespace": config.METRICS_NAMESPACE,
                "MetricName": "ScheduledEmailsMissed",
                "Dimensions": [
                    {"Name": "service", "Value": config.SERVICE},
                    {"Name": "stage", "Value": config.STAGE},
                ],
                "Statistic": "Sum",
            },
            1,
        ),
        "EmailDeadLetterQueueAlarm": _alarm(
            "Messages stay in the email dead-letter queue: the outbox sweep is not burying them",
            {
                "Namespace": "AWS/SQS",
                "MetricName": "ApproximateNumberOfMessagesVisible",
                "Dimensions": [{"Name": "QueueName", "Value": config.EMAIL_DEAD_LETTER_QUEUE}],
                "Statistic": "Maximum",
            },
            3,
        ),
        # Nothing drains the feedback dead-letter queue: each message in it is a bounce or a
        # complaint that suppressed no address (R54), or a Send event that did not mark its
        # job sent (R41). Someone must fix the cause and redrive them.
        "SesFeedbackDeadLetterQueueAlarm": _alarm(
            "SES events failed the feedback function (R54): their addresses may not be "
            "suppressed; redrive the feedback dead-letter queue once the cause is fixed",
            {
                "Namespace": "AWS/SQS",
                "MetricName": "ApproximateNumberOfMessagesVisible",
                "Dimensions": [{"Name": "QueueName", "Value": feedback_dead_letter_queue(config)}],
                "Statistic": "Maximum",
            },
            1,
        ),
        "EmailWorkerErrorsAlarm": _alarm(
            "The email worker failed invocations",
            {
                "Namespace": "AWS/Lambda",
                "MetricName": "Errors",
                "Dimensions": [
                    {"Name": "FunctionName", "Value": {"Ref": functions["email_worker"]}}
                ],
                "Statistic": "Sum",
            },
            1,
        ),
    }


def merge_template() -> dict[str, Any]:
    chalice_app, config, models, cfn_name = _load_code()
    functions = function_names(chalice_app, cfn_name)
    if set(functions) != set(FUNCTIONS):
        raise SystemExit(f"FUNCTIONS must name every function: {sorted(functions)}")
    missing_secrets = set(config.SECRET_PARAMETERS) - set(SECRET_PARAMETER_OF)
    if missing_secrets:
        raise SystemExit(f"secrets without a template parameter: {sorted(missing_secrets)}")
    ttl = ttl_attributes(models)
    resources: dict[str, Any] = {}
    for owner in models.TABLE_OWNERS:
        name = owner.Meta.table_name
        table = table_resource(owner, ttl.get(name))
        resources[logical_id(name, config.TABLE_PREFIX)] = {**table, "Metadata": _skips("table")}
    missing = set(ttl) - {owner.Meta.table_name for owner in models.TABLE_OWNERS}
    if missing:
        raise SystemExit(f"TTL_MODELS name tables no TABLE_OWNERS model owns: {sorted(missing)}")
    resources["EmailDeadLetterQueue"] = {
        "Type": "AWS::SQS::Queue",
        "Metadata": _skips("queue"),
        "Properties": {
            "QueueName": config.EMAIL_DEAD_LETTER_QUEUE,
            "MessageRetentionPeriod": DEAD_LETTER_RETENTION_SECONDS,
            "SqsManagedSseEnabled": True,
        },
    }
    resources["EmailQueue"] = {
        "Type": "AWS::SQS::Queue",
        "Metadata": _skips("queue"),
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
    resources.update(ses_feedback(config))
    for function, logical in functions.items():
        grants = FUNCTIONS[function]
        resources[log_group_id(logical)] = {
            "Type": "AWS::Logs::LogGroup",
            "Metadata": _skips("log_group"),
            "Properties": {
                "LogGroupName": {"Fn::Sub": f"/aws/lambda/${{AWS::StackName}}-{function}"},
                "RetentionInDays": {"Ref": "LogRetentionDays"},
            },
        }
        properties: dict[str, Any] = {
            "MemorySize": grants.memory_mb,
            "Tracing": "Active",
            "LoggingConfig": {"LogGroup": {"Ref": log_group_id(logical)}},
            "Environment": {"Variables": dict(FUNCTION_ENVIRONMENT)},
        }
        if grants.timeout:
            properties["Timeout"] = grants.timeout
        resources[logical] = {"Metadata": _skips("function"), "Properties": properties}
    for source in chalice_app.event_sources:
        if type(source).__name__ != "SQSEventConfig":
            continue
        function = cfn_name(source.name)
        if source.queue == config.SES_FEEDBACK_QUEUE:
            resources[function]["DependsOn"] = ["SesFeedbackQueue"]
            resources[function]["Properties"]["Timeout"] = FEEDBACK_TIMEOUT_SECONDS
            continue  # idempotent: a batch that fails is delivered again, whole
        resources[function]["DependsOn"] = ["EmailQueue"]  # mapped once the queue exists
        properties = resources[function]["Properties"]
        # Tells the worker to answer its failures rather than raise (config.py).
        properties["Environment"]["Variables"]["EMAIL_WORKER_REPORTS_FAILURES"] = "true"
        properties["Events"] = {
            f"{function}SqsEventSource": {
                "Properties": {
                    "FunctionResponseTypes": ["ReportBatchItemFailures"],
                    # SES's send rate bounds the workers, not the queue's depth.
                    "ScalingConfig": {"MaximumConcurrency": {"Ref": "EmailWorkerMaxConcurrency"}},
                }
            }
        }
    resources["ApiAccessLogGroup"] = {
        "Type": "AWS::Logs::LogGroup",
        "Metadata": _skips("log_group"),
        "Properties": {
            "LogGroupName": {"Fn::Sub": "/aws/apigateway/${AWS::StackName}-access"},
            "RetentionInDays": {"Ref": "LogRetentionDays"},
        },
    }
    resources["SecretsKey"] = secrets_key()
    resources["RestAPI"] = _api()
    resources.update(alarms(config, functions))
    resources["SignedRoutesPolicy"] = signed_routes_policy()
    return {
        "Parameters": PARAMETERS,
        "Conditions": CONDITIONS,
        "Resources": resources,
        "Outputs": {
            "SignedRoutesPolicyArn": {
                "Description": "Attach to the platform services' roles that call Portico's "
                "IAM-signed routes (R54's notifications)",
                "Value": {"Ref": "SignedRoutesPolicy"},
            }
        },
    }


def signed_routes_policy() -> dict[str, Any]:
    """R54: the one right a platform service needs to call the routes that take IAM-signed
    requests (API Gateway's AWS_IAM), on this stack's API and stage alone; the platform team
    attaches it to its services' roles. Each path parameter may be any value: the route itself
    keeps R4 (another practice's client answers as missing)."""
    from chalicelib.handlers.routes import ROUTES  # noqa: PLC0415 (after _load_code's environment)

    signed = sorted(
        f"/api/{route.method}{re.sub(r'{[^}]+}', '*', route.path)}"
        for route in ROUTES
        if route.signed
    )
    return {
        "Type": "AWS::IAM::ManagedPolicy",
        "Properties": {
            "Description": "Portico's IAM-signed routes, for the platform's services",
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "InvokeSignedRoutes",
                        "Effect": "Allow",
                        "Action": "execute-api:Invoke",
                        "Resource": [_arn("execute-api", "${RestAPI}" + path) for path in signed],
                    }
                ],
            },
        },
    }


def feedback_dead_letter_queue(config: Any) -> str:
    """Where SES events go that the feedback function failed `FEEDBACK_MAX_RECEIVES` times."""
    return f"{config.SES_FEEDBACK_QUEUE}-dead"


def ses_feedback(config: Any) -> dict[str, Any]:
    """R54: the configuration set every email is sent through, its bounce and complaint
    events to an SNS topic, the topic to the feedback function's queue (with its dead-letter
    queue), and the queue's policy letting that topic alone send to it."""
    dead = feedback_dead_letter_queue(config)
    return {
        "EmailEventsConfigurationSet": {
            "Type": "AWS::SES::ConfigurationSet",
            "Properties": {"Name": f"{config.TABLE_PREFIX}-email-events"},
        },
        "SesFeedbackTopic": {
            "Type": "AWS::SNS::Topic",
            "Metadata": _skips("topic"),
            "Properties": {"TopicName": config.SES_FEEDBACK_QUEUE},
        },
        "EmailEventsDestination": {
            "Type": "AWS::SES::ConfigurationSetEventDestination",
            "Properties": {
                "ConfigurationSetName": {"Ref": "EmailEventsConfigurationSet"},
                "EventDestination": {
                    "Name": "bounces-and-complaints",
                    "Enabled": True,
                    "MatchingEventTypes": FEEDBACK_MATCHING_EVENTS,
                    "SnsDestination": {"TopicARN": {"Ref": "SesFeedbackTopic"}},
                },
            },
        },
        "SesFeedbackDeadLetterQueue": {
            "Type": "AWS::SQS::Queue",
            "Metadata": _skips("queue"),
            "Properties": {
                "QueueName": dead,
                "MessageRetentionPeriod": DEAD_LETTER_RETENTION_SECONDS,
                "SqsManagedSseEnabled": True,
            },
        },
        "SesFeedbackQueue": {
            "Type": "AWS::SQS::Queue",
            "Metadata": _skips("queue"),
            "Properties": {
                "QueueName": config.SES_FEEDBACK_QUEUE,
                "VisibilityTimeout": 6 * FEEDBACK_TIMEOUT_SECONDS,
                "SqsManagedSseEnabled": True,
                "RedrivePolicy": {
                    "deadLetterTargetArn": {"Fn::GetAtt": ["SesFeedbackDeadLetterQueue", "Arn"]},
                    "maxReceiveCount": FEEDBACK_MAX_RECEIVES,
                },
            },
        },
        "SesFeedbackSubscription": {
            "Type": "AWS::SNS::Subscription",
            "Properties": {
                "TopicArn": {"Ref": "SesFeedbackTopic"},
                "Protocol": "sqs",
                "Endpoint": {"Fn::GetAtt": ["SesFeedbackQueue", "Arn"]},
                "RawMessageDelivery": True,
            },
        },
        "SesFeedbackQueuePolicy": {
            "Type": "AWS::SQS::QueuePolicy",
            "Properties": {
                "Queues": [{"Ref": "SesFeedbackQueue"}],
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "SesFeedbackTopicOnly",
                            "Effect": "Allow",
                            "Principal": {"Service": "sns.amazonaws.com"},
                            "Action": "sqs:SendMessage",
                            "Resource": {"Fn::GetAtt": ["SesFeedbackQueue", "Arn"]},
                            "Condition": {
                                "ArnEquals": {"aws:SourceArn": {"Ref": "SesFeedbackTopic"}}
                            },
                        }
                    ],
                },
            },
        },
    }


def _arn(service: str, resource: str) -> dict[str, str]:
    where = "${AWS::Partition}:" + service + ":${AWS::Region}:${AWS::AccountId}"
    return {"Fn::Sub": f"arn:{where}:{resource}"}


def _statement(
    sid: str, actions: tuple[str, ...], resources: list[Any], **extra: Any
) -> dict[str, Any]:
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": sorted(actions),
        "Resource": resources,
        **extra,
    }


def policy(function: str) -> dict[str, Any]:
    """The one policy of `function`'s role: what FUNCTIONS says its code calls."""
    chalice_app, config, models, cfn_name = _load_code()
    grants = FUNCTIONS[function]
    logical = function_names(chalice_app, cfn_name)[function]
    owners = {
        owner.Meta.table_name.removeprefix(config.TABLE_PREFIX + "-"): owner
        for owner in models.TABLE_OWNERS
    }
    unknown = set(grants.reads + grants.writes) - set(owners) - set(ALL)
    if unknown:
        raise SystemExit(f"{function}: no such tables {sorted(unknown)}")

    def tables(names: tuple[str, ...]) -> list[str]:
        return sorted(owners) if names == ALL else sorted(names)

    statements = [
        _statement(
            "Logs", LOG_ACTIONS, [_arn("logs", f"log-group:${{{log_group_id(logical)}}}:*")]
        ),
        _statement("Tracing", TRACE_ACTIONS, ["*"]),
        _statement(
            "TablesRead",
            READ_ACTIONS,
            [_arn("dynamodb", f"table/{config.table(t)}") for t in tables(grants.reads)],
        ),
    ]
    indexes = [
        _arn("dynamodb", f"table/{config.table(t)}/index/{index['index_name']}")
        for t in tables(grants.reads)
        for index in sorted(
            owners[t]._get_schema()["global_secondary_indexes"], key=lambda i: i["index_name"]
        )
    ]
    if indexes:
        statements.append(_statement("Indexes", INDEX_ACTIONS, indexes))
    if grants.writes:
        statements.append(
            _statement(
                "TablesWrite",
                WRITE_ACTIONS,
                [_arn("dynamodb", f"table/{config.table(t)}") for t in tables(grants.writes)],
            )
        )
    if grants.queue:
        statements.append(_statement("EmailQueue", grants.queue, [_arn("sqs", config.EMAIL_QUEUE)]))
    if grants.ses_feedback:
        statements.append(
            _statement("SesFeedbackQueue", QUEUE_CONSUME, [_arn("sqs", config.SES_FEEDBACK_QUEUE)])
        )
    if grants.dead_letters:
        statements.append(
            _statement(
                "EmailDeadLetterQueue",
                DEAD_LETTER_ACTIONS,
                [_arn("sqs", config.EMAIL_DEAD_LETTER_QUEUE)],
            )
        )
    if grants.dead_lettering:
        statements.append(
            _statement(
                "EmailDeadLetterQueueSend",
                DEAD_LETTER_SEND,
                [_arn("sqs", config.EMAIL_DEAD_LETTER_QUEUE)],
            )
        )
    if grants.sends_email:
        # SES authorizes by identity ARN, which the account's verified domain decides; the
        # sender address is pinned instead.
        statements.append(
            _statement(
                "SendEmail",
                SES_ACTIONS,
                ["*"],
                Condition={"StringEquals": {"ses:FromAddress": {"Ref": "MailFromAddress"}}},
            )
        )
    if grants.sealing:
        statements.append(_statement("Sealing", grants.sealing, [_arn("kms", "key/${SecretsKey}")]))
    if grants.secrets:
        statements.append(
            _statement(
                "Secrets",
                SECRET_ACTIONS,
                [
                    _arn("ssm", f"parameter${{{SECRET_PARAMETER_OF[name]}}}")
                    for name in grants.secrets
                ],
            )
        )
    return {"Version": "2012-10-17", "Statement": statements}


def rendered() -> dict[Path, str]:
    return {
        MERGE_TEMPLATE: json.dumps(merge_template(), indent=2) + "\n",
        **{policy_path(f): json.dumps(policy(f), indent=2) + "\n" for f in FUNCTIONS},
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
