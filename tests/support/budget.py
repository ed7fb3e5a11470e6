"""How many examples a property test generates, or rounds a race runs: a bounded slice in
`make test`, the whole budget in `make fuzz` (`LONG_PROPERTIES=1`), as the fuzz run of the
contract does."""

from __future__ import annotations

import os

LONG = os.environ.get("LONG_PROPERTIES", "") == "1"


def examples(slice_: int, whole: int) -> int:
    """`slice_` examples in `make test`, `whole` in the long run."""
    return whole if LONG else slice_
