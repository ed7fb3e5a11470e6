"""DESIGN "Data": no request path Scans. The runtime guard (conftest `dynamo_calls`) fails any
Scan a test provokes; this static check fails any Scan written in the code, run or not."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def scans_in(source: str) -> list[int]:
    return [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if (isinstance(node, ast.Attribute) and node.attr in {"scan", "parallel_scan"})
        or (isinstance(node, ast.Constant) and node.value == "Scan")
    ]


def test_the_checker_finds_a_scan() -> None:
    assert scans_in("ClientProfile.scan()") == [1]
    assert scans_in("client.call('Scan')") == [1]
    assert scans_in("ClientProfile.query('x')") == []


def test_no_code_of_the_app_calls_scan() -> None:
    offenders = {
        str(path.relative_to(ROOT)): lines
        for path in [ROOT / "app.py", *sorted((ROOT / "chalicelib").rglob("*.py"))]
        if (lines := scans_in(path.read_text()))
    }
    assert offenders == {}
