"""The local stage's own routes (API.md "Local stage only"): the outbox a person reads, the API
reference page, and 404 on every other stage."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from chalicelib import config
from chalicelib.models.emails import SENT_DAY_SHARDS, EmailJob, EmailStatus
from chalicelib.services import local_stage
from tests.support.api import Api, Practice
from tests.support.email import add_client, book


def test_the_outbox_shows_sent_emails_as_a_page_and_as_json(api: Api, practice: Practice):
    book(api, practice, [add_client(api, practice, "Ana", "ana@example.com")])
    assert api.get("/_local/outbox.json").body == []
    api.post("/_local/drain")
    [sent] = api.get("/_local/outbox.json").body
    assert sent["to"] == "ana@example.com"
    assert sent["kind"] == "appointment_confirmation"
    assert sent["org_id"] == practice.id
    assert "Practice sunrise" in sent["html"]
    assert sent["subject"].startswith("Your appointment on")
    page = api.get("/_local/outbox")
    assert page.headers["Content-Type"].startswith("text/html")
    assert sent["subject"] in page.raw.decode()
    assert "1 sent email," in page.raw.decode()


def test_a_days_sent_emails_spread_over_shards_and_are_read_one_query_a_shard(
    api: Api, practice: Practice, dynamo_calls
) -> None:
    # Issue #18: `sent_by_day` takes a day's sends in SENT_DAY_SHARDS partitions, not one (a
    # busy day would throttle it); the outbox reads each shard of each day with one Query and
    # lists every email once, oldest first.
    client_ids = [add_client(api, practice, f"C{n}", f"c{n}@example.com") for n in range(3)]
    for _ in range(4):
        book(api, practice, client_ids)
    api.post("/_local/drain")
    jobs = [j for j in EmailJob.by_org.query(practice.id) if j.status == EmailStatus.SENT]
    assert len(jobs) == 12
    days = {job.sent_day.split("#")[0] for job in jobs if job.sent_day}
    shards = {int(job.sent_day.split("#")[1]) for job in jobs if job.sent_day}
    assert len(days) == 1
    assert len(shards) > 1
    assert shards <= set(range(SENT_DAY_SHARDS))
    dynamo_calls.clear()
    listed = local_stage.sent_emails()
    assert dynamo_calls.operations.count("Query") == SENT_DAY_SHARDS * config.LOCAL_OUTBOX_DAYS
    assert sorted(e.job.job_id for e in listed) == sorted(j.job_id for j in jobs)
    moments = [e.job.sent_at for e in listed]
    assert moments == sorted(moments)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/_local/outbox"),
        ("GET", "/_local/outbox.json"),
        ("GET", "/_local/api"),
        ("GET", "/_local/api/openapi.yaml"),
        ("GET", "/_local/api/redoc.standalone.js"),
        ("POST", "/_local/drain"),
        ("POST", "/_local/tick"),
        ("POST", "/_local/faults"),
    ],
)
def test_other_stages_answer_404(api: Api, monkeypatch: pytest.MonkeyPatch, method, path) -> None:
    monkeypatch.setattr(config, "STAGE", "prod")
    answer = api.call(method, path, {} if method == "POST" else None)
    assert answer.status == 404
    assert answer.error_code() == "not_found"


def test_the_api_page_runs_only_its_own_scripts_from_this_site(api: Api) -> None:
    # API.md "HTML pages" (no script but its own) and issue #16 (no CDN): the reference page's
    # two scripts carry this answer's nonce, which the policy names; nothing else may run, and
    # no source but this site's is named.
    first, second = api.get("/_local/api"), api.get("/_local/api")
    assert first.status == 200
    policy = first.headers["Content-Security-Policy"]
    [nonce] = set(re.findall(r"'nonce-([\w-]+)'", policy))
    assert nonce not in second.headers["Content-Security-Policy"]  # a new one each time
    page = first.raw.decode()
    assert page.count(f'nonce="{nonce}"') == 3  # Redoc's script, the call to it, one style
    assert '<script src="/_local/api/redoc.standalone.js"' in page
    assert "unsafe" not in policy
    assert "default-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy
    assert not re.search(r"https?:|\*", policy), policy
    assert first.headers["X-Content-Type-Options"] == "nosniff"


def test_the_api_page_reads_the_document_and_the_bundle_of_the_work_tree(api: Api) -> None:
    # issue #16: Redoc's bundle comes from node_modules (`npm ci`), the document is openapi.yaml
    document = api.get("/_local/api/openapi.yaml")
    assert document.headers["Content-Type"].startswith("application/yaml")
    assert document.raw == local_stage.API_DOCUMENT.read_bytes()
    bundle = api.get("/_local/api/redoc.standalone.js")
    assert bundle.headers["Content-Type"].startswith("text/javascript")
    assert bundle.raw == local_stage.REDOC_BUNDLE.read_bytes()


def test_without_npm_ci_the_bundle_answers_404_saying_what_to_run(
    api: Api, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(local_stage, "REDOC_BUNDLE", tmp_path / "redoc.standalone.js")
    answer = api.get("/_local/api/redoc.standalone.js")
    assert answer.status == 404
    assert "npm ci" in answer.body["error"]["message"]
