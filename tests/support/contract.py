"""openapi.yaml as the tests read it, and the check that an answer is what it documents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from tests.support.api import Answer

DOCUMENT_PATH = Path(__file__).resolve().parents[2] / "openapi.yaml"
SOURCE = DOCUMENT_PATH.read_text(encoding="utf-8")
DOCUMENT: dict[str, Any] = yaml.safe_load(SOURCE)
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
URI = "urn:portico:openapi"


# Keys whose values are prose, where a `#` (an issue, a step) reads naturally.
PROSE = {"description", "summary", "title"}
NULL = "tag:yaml.org,2002:null"


def cut_texts(source: str) -> list[str]:
    """Where YAML silently cut a text short, in a document that still parses and validates.

    In a flow mapping an unquoted comma ends the value: `{description: A, and B.}` is the
    description "A" and a key "and B." with no value, which OpenAPI 3.1 schemas accept as an
    unknown keyword. And ` #` starts a comment: `description: See issue #12` is "See issue"."""
    lines = source.splitlines()
    found: list[str] = []

    def walk(node: yaml.Node) -> None:
        if isinstance(node, yaml.SequenceNode):
            for item in node.value:
                walk(item)
        if not isinstance(node, yaml.MappingNode):
            return
        for key, value in node.value:
            where = f"line {key.start_mark.line + 1}"
            valueless = isinstance(value, yaml.ScalarNode) and value.tag == NULL and not value.value
            if node.flow_style and valueless:
                found.append(f"{where}: {key.value!r} has no value (a comma cut the text before)")
            if key.value in PROSE and isinstance(value, yaml.ScalarNode) and value.style is None:
                rest = lines[value.end_mark.line][value.end_mark.column :]
                if rest.lstrip().startswith("#"):
                    found.append(f"{where}: {key.value} ends where {rest.strip()!r} begins")
            walk(value)

    walk(yaml.compose(source, Loader=yaml.SafeLoader))
    return found


def json_pointer(*parts: str) -> str:
    return "".join("/" + part.replace("~", "~0").replace("/", "~1") for part in parts)


def closed_schema(node: Any) -> Any:
    """A copy where every object schema that lists its properties allows no others.

    The published document lets answers gain fields (API.md: "add fields freely"); this test
    copy does not, so a field the app answers but the document omits fails here."""
    if isinstance(node, list):
        return [closed_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    copied = {key: closed_schema(value) for key, value in node.items()}
    if "properties" in copied and isinstance(copied["properties"], dict):
        copied.setdefault("additionalProperties", False)
    return copied


def schema_validator(document: dict[str, Any], pointer: str) -> Draft202012Validator:
    """A validator for the schema at `pointer`, its $refs resolved through the document."""
    registry = Registry().with_resource(URI, DRAFT202012.create_resource(document))
    return Draft202012Validator(
        {"$ref": f"{URI}#{pointer}"},
        registry=registry,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


def schema_errors(validator: Draft202012Validator, instance: Any) -> list[str]:
    return [
        f"at {'/'.join(str(p) for p in error.absolute_path) or '(root)'}: {error.message}"
        for error in sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    ]


STRICT = closed_schema(DOCUMENT)


def assert_documented(method: str, template: str, answer: Answer) -> None:
    """The answer's status is listed for the operation and its body matches that response's
    schema, with no field the document does not name."""
    responses = DOCUMENT["paths"][template][method.lower()]["responses"]
    status = str(answer.status)
    assert status in responses, (
        f"{method} {template} answered {status}, which openapi.yaml does not list: {answer.body}"
    )
    parts = ["paths", template, method.lower(), "responses", status]
    response = responses[status]
    if "$ref" in response:
        parts = response["$ref"].removeprefix("#/").split("/")
        response = DOCUMENT["components"]["responses"][parts[-1]]
    if "content" not in response:
        assert not answer.raw, f"{method} {template} {status} is documented without a body"
        return
    if "text/html" in response["content"]:
        assert_html(method, template, answer, response)
        return
    if "application/json" not in response["content"]:
        assert_media_type(method, template, answer, response)
        return
    validator = schema_validator(
        STRICT, json_pointer(*parts, "content", "application/json", "schema")
    )
    problems = schema_errors(validator, answer.body)
    assert not problems, f"{method} {template} {status} does not match openapi.yaml: {problems}"


def assert_html(method: str, template: str, answer: Answer, response: dict[str, Any]) -> None:
    """An answer documented as `text/html` is a whole HTML document sent as such."""
    assert set(response["content"]) == {"text/html"}, f"{method} {template}: {response}"
    headers = {name.lower(): value for name, value in answer.headers.items()}
    assert headers.get("content-type", "").startswith("text/html"), (method, template, headers)
    assert answer.raw.lstrip()[:15].lower() == b"<!doctype html>", answer.raw[:200]
    assert answer.raw.rstrip().endswith(b"</html>"), answer.raw[-200:]


def assert_media_type(method: str, template: str, answer: Answer, response: dict[str, Any]) -> None:
    """An answer documented as one other type (a script, a YAML file) is sent as that type."""
    (media,) = response["content"]
    headers = {name.lower(): value for name, value in answer.headers.items()}
    assert headers.get("content-type", "").split(";")[0] == media, (method, template, headers)
    assert answer.raw, f"{method} {template} answered {media} without a body"
