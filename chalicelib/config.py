"""The only reader of the environment: stage, table names, endpoints, URLs and costs.

Everything is read once at import; nothing here talks to AWS, so a cold start stays cheap.
A stage other than `local` refuses to start without its URLs, its sender and the names of its
secret parameters (issue #12 finding 13): a deploy that skipped them would mail links to
loopback or sign forms with a known key. Secrets themselves are never in the environment,
only the names of the SSM parameters that hold them (`secret_store`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

# Not `local` unless said: the local stage serves every sent email at /_local/outbox and signs
# its forms with a fixed key. `make run`, the tests and the benchmarks say `local` themselves.
DEFAULT_STAGE = "prod"
STAGE: str = os.environ.get("PORTICO_STAGE", DEFAULT_STAGE)
REGION: str = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
# Empty means "the real AWS endpoint"; `make run` and the end-to-end tests point it at moto.
AWS_ENDPOINT_URL: str | None = os.environ.get("AWS_ENDPOINT_URL") or None
TABLE_PREFIX: str = os.environ.get("TABLE_PREFIX", f"portico-{STAGE}")

PUBLIC_URL: str = os.environ.get("PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
# Where a person lands signed in (the Client Portal, a separate front end). The local stage
# has a stand-in page that shows the session, so `make run` can be followed in a browser.
PORTAL_URL: str = os.environ.get(
    "PORTAL_URL", f"{PUBLIC_URL}/_local/portal" if STAGE == "local" else f"{PUBLIC_URL}/portal"
).rstrip("/")

# The secrets, by use: outside the local stage each is the name of an SSM SecureString
# parameter, read on first use (`secret_store`). PAGE_SECRET signs the landing pages' CSRF
# tokens. A new key adds its line here, and the template its parameter (deploy_template.py).
SECRET_VARIABLES: dict[str, str] = {"page": "PAGE_SECRET_PARAMETER"}
SECRET_PARAMETERS: dict[str, str] = {
    name: os.environ.get(variable, "") for name, variable in SECRET_VARIABLES.items()
}
# How long a secret read from SSM is kept before it is read again (a rotation lands by then).
SECRET_CACHE_SECONDS: int = int(os.environ.get("SECRET_CACHE_SECONDS", "300"))
# The local stage's fixed secrets: known to anyone, which is why no other stage has them.
LOCAL_SECRETS: dict[str, str] = {"page": "local-page-secret"}
MAX_FORM_BODY_BYTES: int = 64_000
# A landing page's form must be sent within this long of being drawn (its CSRF token and cookie).
CSRF_MAX_AGE_SECONDS: int = 60 * 60

SESSION_TTL_HOURS: int = int(os.environ.get("SESSION_TTL_HOURS", "12"))

# Argon2id cost (R45). "standard" is OWASP's m=19 MiB t=2 p=1 (passwords.STANDARD, sized in
# README "Sizing"); "low" keeps the same algorithm with a cheaper cost so that the test suite
# signs in thousands of times quickly.
PASSWORD_HASH_COST: str = os.environ.get("PASSWORD_HASH_COST", "standard")

# R45: sign-in failures allowed per submitted email and per source address in one window.
LOGIN_WINDOW_SECONDS: int = 15 * 60
LOGIN_FAILURES_PER_EMAIL: int = 5
LOGIN_FAILURES_PER_SOURCE: int = 100

MAX_JSON_BODY_BYTES: int = 1_000_000
MAX_CSV_BODY_BYTES: int = 5 * 1024 * 1024
# R18: a CSV import's rows are written this many at a time (each its own transaction), so a
# 5,000-row file finishes well inside API Gateway's 29 seconds on AWS.
IMPORT_WORKERS: int = int(os.environ.get("IMPORT_WORKERS", "16"))
# R17: anonymous bookings and purchases allowed per source address and per email in one window.
PUBLIC_WINDOW_SECONDS: int = 15 * 60
PUBLIC_ACTIONS_PER_SOURCE: int = 20
PUBLIC_ACTIONS_PER_EMAIL: int = 5

# Email (R39–R44). The queue's dead-letter queue receives a message after this many receives,
# and the worker sends it a job after this many deliveries across all its messages (R42).
EMAIL_QUEUE: str = os.environ.get("EMAIL_QUEUE", f"portico-{STAGE}-email")
EMAIL_DEAD_LETTER_QUEUE: str = os.environ.get("EMAIL_DEAD_LETTER_QUEUE", f"{EMAIL_QUEUE}-dead")
EMAIL_MAX_RECEIVES: int = int(os.environ.get("EMAIL_MAX_RECEIVES", "5"))
# Set by the deployment template, which turns on the SQS event source's ReportBatchItemFailures
# (Chalice cannot): the worker then names its failed records instead of raising (R42).
EMAIL_WORKER_REPORTS_FAILURES: bool = os.environ.get("EMAIL_WORKER_REPORTS_FAILURES") == "true"
MAIL_FROM_ADDRESS: str = os.environ.get("MAIL_FROM_ADDRESS", "notifications@portico.example")
# R54: the SES configuration set every email is sent through; its bounce and complaint events
# reach this queue (the deployment template: SES -> SNS -> SQS). Empty: sent without one.
SES_CONFIGURATION_SET: str = os.environ.get("SES_CONFIGURATION_SET", "")
SES_FEEDBACK_QUEUE: str = os.environ.get("SES_FEEDBACK_QUEUE", f"portico-{STAGE}-ses-feedback")
# R53: the KMS key (an id, ARN or alias) that encrypts the link or code an email job carries
# until it is sent: the template's key in production (a stage without it refuses to start);
# moto's KMS locally, under this alias (chalicelib/infra.py creates it).
SECRETS_KEY_ID: str = os.environ.get("SECRETS_KEY_ID", f"alias/portico-{STAGE}-secrets")
# The local outbox page keeps its copy of each sent email this long (it shows a week).
LOCAL_OUTBOX_DAYS: int = 7
# A job still queued this long after it was written is sent to the queue again (outbox sweep);
# one claimed by a worker this long ago without an outcome is claimed again.
OUTBOX_RESEND_AFTER_SECONDS: int = int(os.environ.get("OUTBOX_RESEND_AFTER_SECONDS", "120"))
OUTBOX_CLAIM_STALE_SECONDS: int = int(os.environ.get("OUTBOX_CLAIM_STALE_SECONDS", "300"))
# B7: identity-level emails neutrally branded for identities in several organizations.
NEUTRAL_IDENTITY_EMAILS: bool = os.environ.get("NEUTRAL_IDENTITY_EMAILS", "false") == "true"
# R44: how far back the reminder trigger looks for reminders it has not sent yet.
REMINDER_LOOKBACK_HOURS: int = int(os.environ.get("REMINDER_LOOKBACK_HOURS", "6"))


# R20: invites and password resets staff may send one client in 24 hours.
STAFF_SENDS_PER_DAY: int = 5
# R14: how far back the follow-up trigger looks for follow-ups it has not sent yet.
FOLLOW_UP_LOOKBACK_HOURS: int = int(os.environ.get("FOLLOW_UP_LOOKBACK_HOURS", "6"))


# Observability (README "Observability"): the service name in log lines and the CloudWatch
# namespace of the embedded-format metrics.
SERVICE: str = "portico"
METRICS_NAMESPACE: str = os.environ.get("METRICS_NAMESPACE", "Portico")


def table(name: str) -> str:
    """The DynamoDB table name of one of Portico's tables in this stage."""
    return f"{TABLE_PREFIX}-{name}"


def is_local() -> bool:
    return STAGE == "local"


class Misconfigured(RuntimeError):
    """A non-local stage started without what it must have: the message names each setting."""


def problems(environ: Mapping[str, str] = os.environ) -> list[str]:
    """What a stage started with `environ` would lack; empty for the local stage and for a
    complete deployment."""
    if environ.get("PORTICO_STAGE", DEFAULT_STAGE) == "local":
        return []
    found = []
    for name in ("PUBLIC_URL", "PORTAL_URL"):
        if not environ.get(name):
            found.append(f"{name} is not set")
        elif not environ[name].startswith("https://"):
            found.append(f"{name} must be an https:// URL")
    if "@" not in environ.get("MAIL_FROM_ADDRESS", ""):
        found.append("MAIL_FROM_ADDRESS is not set to an address")
    if not environ.get("SECRETS_KEY_ID"):
        found.append("SECRETS_KEY_ID is not set (the KMS key that seals emailed links, R53)")
    found += [
        f"{variable} is not set (the SSM parameter holding the {name} secret)"
        for name, variable in SECRET_VARIABLES.items()
        if not environ.get(variable)
    ]
    if environ.get("PAGE_SECRET"):
        found.append("PAGE_SECRET must not be in the environment: set PAGE_SECRET_PARAMETER")
    return found


def require_complete() -> None:
    """Refuse to start a misconfigured stage (called once at import, below)."""
    missing = problems()
    if missing:
        raise Misconfigured(
            f"Portico's {STAGE} stage cannot start: " + "; ".join(missing) + ". "
            "Set them (the deployment template's parameters do), or PORTICO_STAGE=local "
            "for a local run."
        )


require_complete()
