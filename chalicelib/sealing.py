"""The secret an email must carry, kept for the worker only encrypted until it is sent (R53).

A link's or code's secret is stored only as its hash (services/tokens.py). The one thing that
must still read it is the worker that puts it in the email, so the request seals it with AWS
KMS and the worker opens it at render time; nothing else stores it. moto's KMS stands in for
KMS in `make run` and the tests (the same calls, at the configured endpoint), so the local
stack seals exactly as production does.

A sealed secret is bound to the token it opens: its hash is the KMS encryption context, so a
sealed value copied onto another job or token does not open.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from chalicelib import aws, config

_PURPOSE = "portico-link-secret"


@dataclass(frozen=True)
class Sealed:
    """A secret encrypted for the worker: the KMS ciphertext and the token hash it is bound to."""

    ciphertext: str
    token_hash: str


def _context(token_hash: str) -> dict[str, str]:
    return {"purpose": _PURPOSE, "token": token_hash}


def seal(secret: str, token_hash: str) -> Sealed:
    """Encrypt `secret` (a link or a code) with the secrets key, bound to its token."""
    answer = aws.client("kms").encrypt(
        KeyId=config.SECRETS_KEY_ID,
        Plaintext=secret.encode(),
        EncryptionContext=_context(token_hash),
    )
    return Sealed(base64.b64encode(answer["CiphertextBlob"]).decode(), token_hash)


def unseal(sealed: Sealed) -> str:
    """The secret back, for the email being rendered; KMS refuses a value not bound to this
    token (InvalidCiphertextException)."""
    answer = aws.client("kms").decrypt(
        KeyId=config.SECRETS_KEY_ID,
        CiphertextBlob=base64.b64decode(sealed.ciphertext),
        EncryptionContext=_context(sealed.token_hash),
    )
    return answer["Plaintext"].decode()
