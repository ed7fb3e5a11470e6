"""The app over Chalice's test client, and the practices most tests start from."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from chalice.test import Client

from chalicelib.db import Tx
from chalicelib.models.emails import OPEN, EmailJob
from chalicelib.services.identity import identities, passwords
from chalicelib.services.practices import staff
from tests.support.records import sealed_link

PASSWORD = "correct horse battery"


# The shape of a Signature Version 4 header, as the platform's services sign their calls to
# `/v1/services/…` (R54). `chalice local` checks no signature; API Gateway does.
SIGV4_AUTHORIZATION = (
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261201/us-east-1/execute-api/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64
)


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str]
    raw: bytes

    def error_code(self) -> str | None:
        return (
            (self.body or {}).get("error", {}).get("code") if isinstance(self.body, dict) else None
        )


class Api:
    """The app over Chalice's test client, with JSON in and out."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        token: str | None = None,
        raw: bytes | str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        sent = {"content-type": "application/json", **(headers or {})}
        if token:
            sent["authorization"] = f"Bearer {token}"
        payload = raw if raw is not None else (json.dumps(body) if body is not None else b"")
        response = getattr(self.client.http, method.lower())(path, headers=sent, body=payload)
        try:
            parsed = json.loads(response.body) if response.body else None
        except ValueError:
            parsed = response.body
        return Answer(response.status_code, parsed, dict(response.headers), response.body)

    def get(self, path: str, token: str | None = None) -> Answer:
        return self.call("GET", path, token=token)

    def post(self, path: str, body: Any = None, token: str | None = None) -> Answer:
        return self.call("POST", path, body if body is not None else {}, token)

    def patch(self, path: str, body: Any, token: str | None = None) -> Answer:
        return self.call("PATCH", path, body, token)


@dataclass
class Practice:
    """An organization made through the API, with its admin signed in to it."""

    org: dict[str, Any]
    admin_token: str
    admin_email: str
    providers: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.org["id"]


def sign_up_practice(api: Api, slug: str, admin_email: str | None = None) -> Practice:
    email = admin_email or f"admin@{slug}.example"
    answer = api.post(
        "/v1/orgs",
        {
            "name": f"Practice {slug}",
            "slug": slug,
            "admin": {
                "email": email,
                "password": PASSWORD,
                "first_name": "Ada",
                "last_name": "Admin",
            },
        },
    )
    assert answer.status == 201, answer.body
    return Practice(answer.body["org"], answer.body["token"], email)


def add_provider(
    api: Api, practice: Practice, name: str, role: str = "provider", *, accept: bool = True
) -> dict[str, Any]:
    """An admin adds a provider (R49: `invited`, a staff invite sent); with `accept`, the
    provider accepts it with PASSWORD, as its page would, and is `active`."""
    email = f"{name}@{practice.org['slug']}.example"
    answer = api.post(
        f"/v1/orgs/{practice.id}/providers",
        {"email": email, "first_name": name.title(), "last_name": "Provider", "role": role},
        practice.admin_token,
    )
    assert answer.status == 201, answer.body
    provider = answer.body["provider"]
    if accept:
        accepted = staff.accept(
            staff_invite_secret(practice.id, provider["id"]), PASSWORD, PASSWORD, "198.51.100.9"
        )
        assert accepted.session_token, accepted.errors
        provider = {**provider, "status": "active"}
    practice.providers[name] = provider
    return provider


def staff_invite_job(org_id: str, provider_id: str, index: int = -1) -> EmailJob:
    """The provider's newest (or `index`th) staff invite email still open (read behind the
    API: the secret is nowhere but in the email)."""
    provider = staff._provider(org_id, provider_id)
    open_ids = [job.job_id for job in EmailJob.open_jobs.query(OPEN)]  # keys only
    jobs = [
        job
        for job in (EmailJob.batch_get(open_ids) if open_ids else [])
        if job.kind == staff.KIND
        and job.org_id == org_id
        and job.identity_id == provider.identity_id
    ]
    return sorted(jobs, key=lambda job: job.created_at)[index]


def staff_invite_secret(org_id: str, provider_id: str, index: int = -1) -> str:
    return sealed_link(staff_invite_job(org_id, provider_id, index)).rsplit("/", 1)[-1]


def give_password(email: str, password: str = PASSWORD) -> None:
    """Stand-in for accepting an invite (issue #4): the login's password, set as a link to the
    mailbox sets it (proven, R50)."""
    identity = identities.find_by_email(email)
    assert identity is not None
    tx = Tx()
    identities.prove_mailbox(tx, identity, password_hash=passwords.hash_password(password))
    tx.commit()


def login(api: Api, email: str, password: str = PASSWORD) -> Answer:
    return api.post("/v1/auth/login", {"email": email, "password": password})
