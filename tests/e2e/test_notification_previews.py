"""B8, R54, R9, R40: every notification of the catalogue previewed by staff in a real browser,
in the practice's branding, before it is ever sent; each photographed at 390 px and 1280 px
wide (artifacts/screenshots/notification-<kind>-<width>.png)."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.rules.notifications import NOTIFICATIONS
from tests.support.stack import Stack, screenshots

pytestmark = pytest.mark.e2e

DEMO_PASSWORD = "portico-demo-1"  # scripts/demo_data.py's published password


def test_b8_each_notification_kind_previews_in_evergreens_branding(stack: Stack, page: Any) -> None:
    signed_in = stack.call(
        "POST",
        "/v1/auth/login",
        {"email": "admin@evergreen.example", "password": DEMO_PASSWORD},
    ).json()
    org_id, token = signed_in["account"]["org"]["id"], signed_in["token"]
    branding = stack.call("GET", f"/v1/orgs/{org_id}", token=token).json()["org"]["branding"]
    listed = stack.call("GET", f"/v1/orgs/{org_id}/email-previews", token=token).json()["kinds"]
    assert set(NOTIFICATIONS) <= set(listed)
    page.set_extra_http_headers({"Authorization": f"Bearer {token}"})
    for kind in NOTIFICATIONS:
        answer = page.goto(f"{stack.base_url}/v1/orgs/{org_id}/email-previews/{kind}")
        assert answer is not None, kind
        assert answer.status == 200, kind
        assert branding["display_name"] in page.inner_text("body"), kind
        assert page.locator(".button").inner_text() == "Open your client portal", kind
        screenshots(page, f"notification-{kind}")
