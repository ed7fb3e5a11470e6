"""Records a test reads straight from the table and expects to exist.

The services answer `None` for a record that is not there; a test that reads one it has just
made wants the record itself, so these fail the test, naming what was missing, instead."""

from __future__ import annotations

import re
from typing import TypeVar

import pytest
from pynamodb.models import Model

from chalicelib import db, sealing
from chalicelib.models.emails import EmailJob, LocalOutboxCopy
from chalicelib.models.identities import Identity
from chalicelib.rules.email_kinds import KINDS
from chalicelib.services import tokens
from chalicelib.services.identity import identities

# A link (its whole URL) or a passcode in a sent email's text.
_LINK = re.compile(r"https?://[^/\s]+/[a-z-]+/[A-Za-z0-9_-]{20,}")
_CODE = re.compile(r"\b[0-9]{6}\b")

M = TypeVar("M", bound=Model)


def stored(model_cls: type[M], hash_key: str, range_key: str | None = None) -> M:
    """The record as stored now; fails the test when it does not exist."""
    record = db.get(model_cls, hash_key, range_key)
    if record is None:
        pytest.fail(f"no {model_cls.__name__} is stored at ({hash_key!r}, {range_key!r})")
    return record


def identity_of(email: str) -> Identity:
    """The login of an email address as stored now; fails the test when there is none."""
    # Looked up through the module so that a test's monkeypatch of find_by_email applies.
    identity = identities.find_by_email(email)
    if identity is None:
        pytest.fail(f"no identity has the email {email!r}")
    return identity


def token_of(secret: str, kind: str) -> tokens.Token:
    """The token behind a link's secret, whatever its status; fails the test when there is none."""
    token = tokens.find(secret, kind)
    if token is None:
        pytest.fail(f"no {kind} token has the secret {secret!r}")
    return token


def sealed_link(job: EmailJob) -> str:
    """The link or code an email job carries: opened as the worker opens it while the job is
    unsent (it holds it only sealed, R53), else read off the sent email (the job keeps
    neither once it ended)."""
    if job.sealed_secret is not None:
        return sealing.unseal(sealing.Sealed(job.sealed_secret, job.context["token_hash"]))
    text = sent_text(job)
    found = (_CODE if KINDS[job.kind].sealed == "code" else _LINK).search(text)
    if found is None:
        pytest.fail(f"the {job.kind} job {job.job_id} carries no link or code")
    return found.group(0)


def sent_text(job: EmailJob) -> str:
    """The text of a sent email, from the copy the local stage's sender keeps (a job keeps no
    body, R53)."""
    if job.ses_message_id is None:
        pytest.fail(f"the {job.kind} job {job.job_id} was not sent ({job.status})")
    return LocalOutboxCopy.get(LocalOutboxCopy.key_for(job.ses_message_id)).text
