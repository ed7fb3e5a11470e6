"""The local stage's API reference page in a real browser (issue #16): Redoc's bundle from
node_modules renders openapi.yaml, and the page's own Content-Security-Policy lets in all it
needs from this site and nothing from anywhere else.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.stack import Stack, screenshot

pytestmark = pytest.mark.e2e

# Records what the page's policy refuses, from before any script of the page runs.
WATCH_POLICY = """
window.refused = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.refused.push(event.effectiveDirective + " " + event.blockedURI);
});
"""


def test_the_api_page_renders_the_document_with_nothing_from_elsewhere(
    stack: Stack, page: Any
) -> None:
    loaded: list[str] = []
    page.on("requestfinished", lambda request: loaded.append(request.url))
    page.add_init_script(WATCH_POLICY)
    page.set_viewport_size({"width": 1280, "height": 900})
    opened = page.goto(f"{stack.base_url}/_local/api")
    assert opened.status == 200
    page.locator("h1", has_text="Portico API").wait_for(timeout=30_000)
    screenshot(page, "api-reference", full_page=False)
    login = page.locator("h2", has_text="Sign in with email and password")
    login.evaluate("(heading) => heading.scrollIntoView()")  # to the window's top
    page.locator("button", has_text="/v1/auth/login").first.click()  # shows the servers
    page.get_by_text("execute-api").first.wait_for()
    screenshot(page, "api-reference-login", full_page=False)

    # Everything came from this site (or was made in the page), Redoc's scripts and styles ran.
    assert [url for url in loaded if not url.startswith((stack.base_url, "blob:", "data:"))] == []
    assert f"{stack.base_url}/_local/api/openapi.yaml" in loaded
    unapplied = page.evaluate(
        "Array.from(document.querySelectorAll('style')).filter((s) => !s.sheet).length"
    )
    assert unapplied == 0  # every stylesheet Redoc inserts is allowed (nonce or hash)
    # The one thing refused: the logo the bundle would fetch from Redocly's CDN (it hides).
    refused = page.evaluate("window.refused")
    assert all(entry.startswith("img-src https://") for entry in refused), refused
