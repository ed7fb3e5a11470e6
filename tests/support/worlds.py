"""Worlds many tests share, built once per module and restored before each test.

A module that needs the same practices, clients and groups in each of its tests (validation,
isolation, the contract) builds them once through the API; every test then starts from a
restored snapshot of exactly that build, so no test sees what another one changed.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from chalice.test import Client

from app import app
from tests.support import moto
from tests.support.api import Api

W = TypeVar("W")


def shared_world(name: str, build: Callable[[Api], W]) -> tuple[Any, Any]:
    """Two fixtures for a test module: `_<name>_built` (module scope: wipe, build through the
    API, snapshot) and `<name>` (each test: restore the snapshot, a copy of what was built).

        _world_built, world = shared_world("world", build_world)
    """

    @pytest.fixture(scope="module", name=f"_{name}_built")
    def built(moto_session: None) -> tuple[W, moto.Snapshot]:
        moto.wipe()
        with Client(app, stage_name="local") as client:
            made = build(Api(client))
        return made, moto.snapshot()

    @pytest.fixture(name=name)
    def restored(api: Api, request: pytest.FixtureRequest) -> W:
        made, taken = request.getfixturevalue(f"_{name}_built")
        moto.restore(taken, name)
        return copy.deepcopy(made)

    return built, restored
