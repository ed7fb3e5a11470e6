"""A client generated from openapi.yaml drives the real local stack (issue #16, API.md).

openapi-python-client, run as a platform team runs it (`make client`: the same command and
openapi-python-client.yaml), must generate every operation of the document with no warning;
the client it makes then signs up a practice, signs in, chooses an account, reads and changes
the practice, adds and lists clients and imports a CSV, each answer parsed into its model.
"""

from __future__ import annotations

import importlib
import io
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scripts.demo_data import PASSWORD as DEMO_PASSWORD
from tests.support.api import PASSWORD
from tests.support.contract import DOCUMENT, HTTP_METHODS
from tests.support.stack import ROOT, Stack

pytestmark = pytest.mark.e2e

PACKAGE = "portico_client"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The generated package, importable while this module's tests run."""
    out = tmp_path_factory.mktemp("generated") / PACKAGE
    tools = Path(sys.executable).parent  # the generator runs ruff from PATH on what it wrote
    command = [
        str(tools / "openapi-python-client"),
        "generate",
        "--path",
        str(ROOT / "openapi.yaml"),
        "--config",
        str(ROOT / "openapi-python-client.yaml"),
        "--meta",
        "none",
        "--output-path",
        str(out),
        "--fail-on-warning",
    ]
    done = subprocess.run(  # noqa: S603 (our own virtual environment's tool)
        command,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PATH": f"{tools}{os.pathsep}{os.environ['PATH']}"},
    )
    assert done.returncode == 0, done.stdout + done.stderr  # a warning is a failure too
    sys.path.insert(0, str(out.parent))
    try:
        yield out
    finally:
        sys.path.remove(str(out.parent))
        for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
            del sys.modules[name]


def module(name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.{name}")


def test_every_operation_of_the_document_is_generated(generated: Path) -> None:
    # issue #16: none dropped (the practice model once was, and the CSV import)
    operations = {op["operationId"] for item in DOCUMENT["paths"].values() for op in _ops(item)}
    modules = {path.stem for path in (generated / "api").glob("*/*.py") if path.stem[0] != "_"}
    assert modules == operations


def _ops(item: dict[str, Any]) -> list[dict[str, Any]]:
    return [item[method] for method in HTTP_METHODS if method in item]


def test_the_generated_client_signs_in_chooses_and_manages_clients(
    stack: Stack, generated: Path
) -> None:
    """R2, R3, R10, R18 through the generated client, every answer parsed into its model.

    GIVEN the demo's Maya, a client of two practices  WHEN she signs in and switches  THEN she
    is in Harbor; GIVEN a practice signed up through the client  WHEN its admin reads and renames
    it, adds a client and imports a CSV  THEN the list shows both clients."""
    models, types, client = module("models"), module("types"), module("client")
    anonymous = client.Client(base_url=stack.base_url, raise_on_unexpected_status=True)

    signed_in = module("api.sign_in.login").sync(
        client=anonymous, body=models.Login(email="maya@example.com", password=DEMO_PASSWORD)
    )
    assert isinstance(signed_in, models.SignedIn), signed_in
    assert signed_in.account is None  # two accounts: she chooses
    harbor = next(a for a in signed_in.accounts if a.org.slug == "harbor")
    maya = client.AuthenticatedClient(base_url=stack.base_url, token=signed_in.token)
    switched = module("api.sign_in.switch").sync(
        client=maya, body=models.Switch(account_id=harbor.account_id)
    )
    assert isinstance(switched, models.Switched), switched
    assert switched.account.account_id == harbor.account_id

    slug = f"gen-{uuid.uuid4().hex[:10]}"
    admin = models.AdminSignup(
        email=f"admin@{slug}.example", password=PASSWORD, first_name="Ada", last_name="Admin"
    )
    created = module("api.organizations.create_org").sync(
        client=anonymous, body=models.CreateOrg(name="Sunrise", slug=slug, admin=admin)
    )
    org = created.org
    assert isinstance(org, models.Org), created
    assert isinstance(org.settings, models.EffectiveOrgSettings)
    staff = client.AuthenticatedClient(
        base_url=stack.base_url, token=created.token, raise_on_unexpected_status=True
    )
    read = module("api.organizations.get_org").sync(org.id, client=staff)
    assert isinstance(read, models.OrgAnswer), read
    assert read.org.branding.display_name == "Sunrise"
    renamed = module("api.organizations.update_org").sync(
        org.id, client=staff, body=models.UpdateOrg(name="Sunrise Physio")
    )
    assert isinstance(renamed, models.OrgAnswer), renamed
    assert renamed.org.name == "Sunrise Physio"

    added = module("api.clients.create_client").sync(
        org.id,
        client=staff,
        body=models.CreateClient(first_name="Maya", last_name="Chen", send_invite=False),
    )
    assert isinstance(added, models.ClientAnswer), added
    csv = b"first_name,last_name,email,phone,dob\nNoor,Haddad,noor@example.com,,1990-02-03\n"
    report = module("api.clients.import_clients").sync(
        org.id, client=staff, body=types.File(payload=io.BytesIO(csv), mime_type="text/csv")
    )
    assert isinstance(report, models.ImportReport), report
    assert (report.created, report.rows[0].status) == (1, "created")

    listed = module("api.clients.list_clients").sync(org.id, client=staff)
    names = sorted(f"{c.first_name} {c.last_name}" for c in listed.clients)
    assert names == ["Maya Chen", "Noor Haddad"]
    assert added.client.id in {c.id for c in listed.clients}
