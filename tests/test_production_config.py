"""A deployed stage starts configured or not at all (issue #12 finding 13, issue #16).

Outside the local stage Portico needs its public URLs, its sender and the names of the SSM
parameters holding its secrets; the secrets are read from SSM on first use and kept a while,
never from the environment; the `/_local/*` routes exist in the local stage only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.client
import pytest

from chalicelib import aws as aws_module
from chalicelib import config, secret_store
from scripts import deploy_template
from tests.support.api import Api
from tests.support.invites import add_client, invite_path, open_page

ROOT = Path(__file__).resolve().parent.parent
# What a deployed function's environment holds (the template's Parameters), and the stage.
DEPLOYED = {
    "PORTICO_STAGE": "prod",
    "PUBLIC_URL": "https://api.example.org",
    "PORTAL_URL": "https://portal.example.org",
    "MAIL_FROM_ADDRESS": "notify@example.org",
    "PAGE_SECRET_PARAMETER": "/portico/prod/page-secret",
    "SECRETS_KEY_ID": "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
}
STARTED = """
import json, logging
import app
handlers = logging.getLogger("portico_events").handlers
print(json.dumps({
    "local_routes": sorted(p for p in app.app.routes if p.startswith("/_local")),
    "routes": len(app.app.routes),
    "formatters": [type(h.formatter).__name__ for h in handlers],
}))
"""


def _start(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A fresh function's import of the app with exactly this environment (and AWS's region)."""
    base = {k: v for k, v in os.environ.items() if k not in {*DEPLOYED, "PAGE_SECRET"}}
    return subprocess.run(  # noqa: S603 (our own interpreter)
        [sys.executable, "-c", STARTED],
        cwd=ROOT,
        env={**base, "AWS_DEFAULT_REGION": "us-east-1", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_stage_defaults_to_a_deployed_one_that_refuses_to_start_unconfigured() -> None:
    # Finding 13: without PORTICO_STAGE the stage is not `local`, and it names what it lacks
    started = _start({})
    assert started.returncode != 0
    assert "Misconfigured: Portico's prod stage cannot start" in started.stderr
    for setting in (
        "PUBLIC_URL",
        "PORTAL_URL",
        "MAIL_FROM_ADDRESS",
        "PAGE_SECRET_PARAMETER",
        "SECRETS_KEY_ID",
    ):
        assert setting in started.stderr, setting


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"PUBLIC_URL": "http://127.0.0.1:8000"}, "PUBLIC_URL must be an https:// URL"),
        ({"PORTAL_URL": ""}, "PORTAL_URL is not set"),
        ({"MAIL_FROM_ADDRESS": "nobody"}, "MAIL_FROM_ADDRESS is not set to an address"),
        ({"PAGE_SECRET_PARAMETER": ""}, "PAGE_SECRET_PARAMETER is not set"),
        ({"SECRETS_KEY_ID": ""}, "SECRETS_KEY_ID is not set"),  # R53
        ({"PAGE_SECRET": "in-plain-sight"}, "PAGE_SECRET must not be in the environment"),
    ],
)
def test_a_deployed_stage_refuses_each_missing_or_unsafe_setting(
    change: dict[str, str], named: str
) -> None:
    # The check import runs (config.require_complete), on each setting alone
    assert config.problems(DEPLOYED) == []
    [problem] = config.problems({**DEPLOYED, **change})
    assert problem.startswith(named)
    assert config.problems({**DEPLOYED, **change, "PORTICO_STAGE": "local"}) == []


def test_a_configured_deployed_stage_starts_without_the_local_routes() -> None:
    # DESIGN "Running it here": /_local/* exists in the local stage only; logs are Powertools'
    started = _start(DEPLOYED)
    assert started.returncode == 0, started.stderr[-2000:]
    shown = json.loads(started.stdout)
    assert shown["local_routes"] == []
    assert shown["routes"] > 40
    assert shown["formatters"] == ["LambdaPowertoolsFormatter"]
    local = _start({"PORTICO_STAGE": "local"})
    assert local.returncode == 0, local.stderr[-2000:]
    assert "/_local/outbox" in json.loads(local.stdout)["local_routes"]


def test_the_packaging_placeholders_satisfy_the_check_and_reach_no_template() -> None:
    # scripts/package.py imports the prod app with them; the template's values are Parameters
    started = _start({**deploy_template.PACKAGING_ENVIRONMENT, "PORTICO_STAGE": "prod"})
    assert started.returncode == 0, started.stderr[-2000:]
    assert "packaging.invalid" not in deploy_template.MERGE_TEMPLATE.read_text()


class SsmCalls:
    def __init__(self) -> None:
        self.names: list[str] = []


@pytest.fixture
def deployed_secrets(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[SsmCalls]:
    """The prod stage's secret store over moto's SSM, every GetParameter counted."""
    ssm = aws_module.client("ssm")
    ssm.put_parameter(Name="/portico/prod/page-secret", Value="a-deployed-key", Type="SecureString")
    monkeypatch.setattr(config, "STAGE", "prod")
    monkeypatch.setitem(config.SECRET_PARAMETERS, "page", "/portico/prod/page-secret")
    calls = SsmCalls()
    original = botocore.client.BaseClient._make_api_call

    def counting(client: Any, operation: str, params: dict[str, Any]) -> Any:
        if client.meta.service_model.service_name == "ssm":
            calls.names.append(params.get("Name", ""))
        return original(client, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", counting)
    secret_store.forget()
    yield calls
    secret_store.forget()
    ssm.delete_parameter(Name="/portico/prod/page-secret")


def test_secrets_are_read_from_ssm_on_first_use_and_kept(
    deployed_secrets: SsmCalls, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Issue #16: no secret in the environment; one GetParameter per warm function and period
    assert deployed_secrets.names == []  # nothing is read before it is needed
    assert secret_store.page_secret() == "a-deployed-key"
    assert secret_store.page_secret() == "a-deployed-key"
    assert deployed_secrets.names == ["/portico/prod/page-secret"]
    monkeypatch.setattr(config, "SECRET_CACHE_SECONDS", 0)  # the period has passed
    assert secret_store.page_secret() == "a-deployed-key"
    assert len(deployed_secrets.names) == 2


def test_the_landing_pages_sign_with_the_deployed_secret(
    api: Api, practice: Any, deployed_secrets: SsmCalls
) -> None:
    # A page's CSRF pair is signed with SSM's key, not the local one (API.md "HTML pages")
    path = invite_path(practice, add_client(api, practice, "maya@example.com")["id"])
    page, _, token = open_page(api, path)
    assert page.status == 200
    assert token
    assert deployed_secrets.names == ["/portico/prod/page-secret"]
