"""The code's layout holds (DESIGN, README "How it is built"): dependencies run one way.

Each module of chalicelib belongs to a layer; it may import its own layer and the layers below,
never one above, and no import cycle may form anywhere (a cycle hidden by an import inside a
function is still a cycle, so chalicelib imports nothing inside a function but the two heavy
libraries that cold starts put off until they are needed).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from chalicelib.rules.settings import FEATURES
from chalicelib.schemas.practices import Features

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "chalicelib"

# Lowest first. A module's layer is that of the longest prefix naming it.
LAYERS: list[tuple[str, ...]] = [
    (
        "chalicelib",
        "chalicelib.config",
        "chalicelib.clock",
        "chalicelib.ids",
        "chalicelib.logs",
        "chalicelib.metrics",
        "chalicelib.paging",
        "chalicelib.aws",
        "chalicelib.secret_store",
        "chalicelib.errors",
        "chalicelib.db",
        "chalicelib.models",
        "chalicelib.infra",
    ),
    ("chalicelib.rules",),
    ("chalicelib.schemas",),
    (
        "chalicelib.services",
        "chalicelib.services.records",
        "chalicelib.services.outbox",
        "chalicelib.services.audit",
        "chalicelib.services.tokens",
        "chalicelib.services.throttle",
        "chalicelib.services.sends",
        "chalicelib.services.chat",
    ),
    ("chalicelib.services.identity",),
    ("chalicelib.services.access",),
    ("chalicelib.services.practices",),
    ("chalicelib.services.invites", "chalicelib.services.appointments"),
    ("chalicelib.services.clients",),
    ("chalicelib.services.families",),
    ("chalicelib.services.email",),
    ("chalicelib.services.portal",),
    ("chalicelib.services.triggers", "chalicelib.services.local_stage"),
    ("chalicelib.handlers",),
]
# Imports a function may make: heavy libraries only the paths that need them load, so that a
# cold start does not pay for them (issue #17). Each is third-party, never chalicelib: an
# import inside a function is invisible to the cycle check above.
LAZY = {
    # css-inline: only rendering an email (the worker, a preview) inlines its styles.
    ("chalicelib.services.email.rendering", "css_inline"),
    # email-validator's regular expressions: only a body or page with an address checks one.
    ("chalicelib.schemas.common", "email_validator"),
    # argon2-cffi's C library: only hashing or verifying a password (sign-in, set password).
    ("chalicelib.services.identity.passwords", "argon2"),
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}


def layer_of(module: str) -> int:
    best, found = -1, None
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, found = len(prefix), index
    assert found is not None, f"{module} is in no layer: add it to LAYERS"
    return found


def imported(module: str, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The chalicelib modules an import statement loads."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if alias.name.startswith("chalicelib")]
    if not node.module or not node.module.startswith("chalicelib"):
        return []
    return [
        f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in MODULES else node.module
        for alias in node.names
    ]


def imports_of(module: str) -> tuple[set[str], list[tuple[str, str]]]:
    """(chalicelib modules imported at module level, imports made inside functions)."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    top: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            top.update(imported(module, node))
    inner = [
        (module, ast.unparse(node))
        for function in ast.walk(tree)
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef)
        for node in ast.walk(function)
        if isinstance(node, ast.Import | ast.ImportFrom)
    ]
    return top, inner


GRAPH = {module: imports_of(module)[0] for module in MODULES}


def test_every_module_has_a_layer() -> None:
    for module in MODULES:
        layer_of(module)


def test_no_module_imports_one_of_a_higher_layer() -> None:
    against = [
        f"{module} (layer {layer_of(module)}) imports {target} (layer {layer_of(target)})"
        for module, targets in GRAPH.items()
        for target in targets
        if layer_of(target) > layer_of(module)
    ]
    assert not against, "\n".join(against)


def test_there_is_no_import_cycle() -> None:
    # Tarjan's strongly connected components: any component of two or more is a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in GRAPH.get(module, ()):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == module:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(GRAPH):
        if module not in index:
            visit(module)
    assert not cycles, cycles


def test_no_import_inside_a_function_but_the_lazy_libraries() -> None:
    found = [
        (module, statement)
        for module in MODULES
        for module_, statement in imports_of(module)[1]
        if (module_, statement.split()[1].split(".")[0]) not in LAZY
    ]
    assert not found, found


@pytest.mark.parametrize(
    "package", sorted(p for p in MODULES if MODULES[p].name == "__init__.py"), ids=str
)
def test_each_package_opens_with_a_docstring_of_what_it_holds(package: str) -> None:
    tree = ast.parse(MODULES[package].read_text(encoding="utf-8"))
    assert ast.get_docstring(tree), f"{package}/__init__.py says nothing of what it holds"


def test_the_features_model_has_one_field_per_portal_feature() -> None:
    # R35: the feature list is written once (rules.settings); the request model must follow it
    assert tuple(Features.model_fields) == FEATURES
