"""Creates what the deployment template creates on AWS, for moto: the local stack and tests.

Tables with their indexes and TTL, the email queue with its dead-letter redrive (R42), the
KMS key that seals the secrets email jobs carry (R53), and the verified sender SES requires.
Never imported by a request path.
"""

from __future__ import annotations

import json

from chalicelib import aws, config
from chalicelib.models import TABLE_OWNERS, TTL_MODELS


def create_tables() -> None:
    for owner in TABLE_OWNERS:
        if not owner.exists():
            owner.create_table(wait=True)
    for model in TTL_MODELS:
        model.update_ttl(ignore_update_ttl_errors=True)


def create_queues(visibility_timeout: int = 60) -> None:
    sqs = aws.client("sqs")
    dead = sqs.create_queue(QueueName=config.EMAIL_DEAD_LETTER_QUEUE)["QueueUrl"]
    dead_arn = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])
    sqs.create_queue(
        QueueName=config.EMAIL_QUEUE,
        Attributes={
            "VisibilityTimeout": str(visibility_timeout),
            "RedrivePolicy": json.dumps(
                {
                    "deadLetterTargetArn": dead_arn["Attributes"]["QueueArn"],
                    "maxReceiveCount": str(config.EMAIL_MAX_RECEIVES),
                }
            ),
        },
    )
    # R54: SES's bounce and complaint events (the template feeds it from SNS).
    sqs.create_queue(QueueName=config.SES_FEEDBACK_QUEUE)


def create_secrets_key() -> None:
    """The key behind `config.SECRETS_KEY_ID`, made once: an alias names it, as in the template."""
    kms = aws.client("kms")
    aliases = kms.list_aliases()["Aliases"]
    if any(alias["AliasName"] == config.SECRETS_KEY_ID for alias in aliases):
        return
    key = kms.create_key(Description="Portico: link and code secrets of unsent emails (R53)")
    kms.create_alias(AliasName=config.SECRETS_KEY_ID, TargetKeyId=key["KeyMetadata"]["KeyId"])


def verify_sender() -> None:
    domain = config.MAIL_FROM_ADDRESS.rpartition("@")[2]
    aws.client("ses").verify_domain_identity(Domain=domain)


def create_all() -> None:
    create_tables()
    create_queues()
    create_secrets_key()
    verify_sender()
