"""End-to-end fixtures: one real local stack for the session, as `make run` starts it with its
demo data (tests/support/stack.py), and one headless Chromium; tests talk to the stack over HTTP
only, each with practices and emails of its own.

Order: the fuzz run goes after every other test (its fuzzed sign-ins fill the per-address
throttle, R45, that the others sign in under), and the test that stops the stack with Ctrl-C
goes last of all."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.stack import CHROMIUM, CHROMIUM_ARGS, Stack, start_stack


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def place(item: pytest.Item) -> int:
        if item.get_closest_marker("stops_the_stack"):
            return 2
        return 1 if item.get_closest_marker("fuzz") else 0

    items.sort(key=place)  # stable: the order within each part stays pytest's


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The session's one local stack, with the demo data; stopped at the end unless a test
    stopped it already."""
    started = start_stack(tmp_path_factory.mktemp("stack-logs"), demo=True)
    yield started
    started.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the session (Playwright's own browser download cannot work
    here, so it launches the system's, `make test` installs it when missing)."""
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 (only browser tests)

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install -y chromium` (make test does it)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context (its own cookies) and page for one test."""
    context = browser.new_context()
    opened = context.new_page()
    yield opened
    context.close()
