"""openapi.yaml is the published contract (API.md): it stays in step with the app.

The document must be valid OpenAPI 3.1, describe exactly the routes the app registers, carry
request examples its own schemas accept, describe request bodies as the pydantic models do, and
describe the answers the app really gives, field for field.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from chalice.test import Client
from openapi_spec_validator import validate as validate_openapi
from pydantic import BaseModel

from app import app
from chalicelib import config, schemas
from chalicelib.schemas.audit import AuditQuery
from chalicelib.schemas.clients import ImportQuery, ListClientsQuery
from chalicelib.schemas.common import TEXT_MAX, PageQuery
from chalicelib.schemas.emails import EmailLogQuery
from chalicelib.services.practices import staff
from tests.support.api import (
    PASSWORD,
    Answer,
    Api,
    Practice,
    add_provider,
    give_password,
    login,
    sign_up_practice,
    staff_invite_secret,
)
from tests.support.contract import (
    DOCUMENT,
    HTTP_METHODS,
    SOURCE,
    assert_documented,
    cut_texts,
    json_pointer,
    schema_errors,
    schema_validator,
)
from tests.support.join import Browser, code_of, confirm_path, make_group, sign_up_fields
from tests.support.sign_in import PageBrowser
from tests.support.sign_in import code_of as hand_over_code
from tests.support.sign_in import exchange as hand_over_exchange

SIGN_UP_AND_LOGIN = {("POST", "/v1/orgs"), ("POST", "/v1/auth/login")}
# API.md "Local stage only": served with no session in the local stage, 404 in every other.
LOCAL = {
    (method, path)
    for path, methods in app.routes.items()
    if path.startswith("/_local/")
    for method in methods
}
# API.md "Public" and "HTML pages": anonymous visitors, no session.
ANONYMOUS = {
    (method, path)
    for path, methods in app.routes.items()
    if path.startswith("/v1/public/") or not path.startswith(("/v1/", "/_local/"))
    for method in methods
}
# R54: the platform's services' door, IAM-signed; API Gateway checks the signature (the
# template: tests/test_deployment.py), `chalice local` admits the call, so the body is read.
IAM_SIGNED = {
    (method, path)
    for path, methods in app.routes.items()
    if path.startswith("/v1/services/")
    for method in methods
}
# Bodies other than JSON (API.md conventions): the CSV import and the pages' forms.
MEDIA_TYPES = {
    ("POST", "/v1/orgs/{org_id}/imports"): "text/csv",
    **{
        (method, path): "application/x-www-form-urlencoded"
        for method, path in ANONYMOUS
        if not path.startswith("/v1/") and method == "POST"
    },
}
# Public JSON routes that answer 400 to an empty body (R20, R22).
PUBLIC_FORMS = {
    ("POST", "/v1/auth/password-reset"),
    ("POST", "/v1/auth/otp"),
    ("POST", "/v1/auth/otp/verify"),
    ("POST", "/v1/auth/exchange"),
}
# B9: the hosted sign-in pages answer a visitor without a session: the form, or the way to it.
HOSTED_WITHOUT_SESSION = {("GET", "/sign-in"): 200, ("GET", "/sign-in/choose"): 303}
PUBLIC = SIGN_UP_AND_LOGIN | LOCAL | PUBLIC_FORMS | ANONYMOUS


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, item[method])
        for path, item in DOCUMENT["paths"].items()
        for method in HTTP_METHODS
        if method in item
    ]


OPERATIONS = _operations()
WITH_BODY = [
    (m, p, op)
    for m, p, op in OPERATIONS
    if "application/json" in op.get("requestBody", {}).get("content", {})
]


# The document itself ------------------------------------------------------------------------


def test_the_document_is_valid_openapi_3_1() -> None:
    # API.md: publish the whole contract as openapi.yaml
    assert DOCUMENT["openapi"].startswith("3.1.")
    validate_openapi(DOCUMENT)


def test_no_text_of_the_document_is_cut_short() -> None:
    # API.md: the contract is whole. An unquoted comma or ` #` cuts a text without any error
    # from YAML or OpenAPI 3.1's validator; Redocly (make lint) sees the first kind only where
    # a stray key is not allowed.
    assert cut_texts("a: {description: Skipped, or rejected.}") == [
        "line 1: 'or rejected.' has no value (a comma cut the text before)"
    ]
    assert cut_texts("description: See issue #12\nb: {summary: x  # y\n}") == [
        "line 1: description ends where '#12' begins",
        "line 2: summary ends where '# y' begins",
    ]
    assert cut_texts("a: {description: 'A, b', b: null}\nsummary: '#1'  # a comment\n") == []
    assert not cut_texts(SOURCE), cut_texts(SOURCE)


def test_the_document_describes_exactly_the_routes_of_the_app() -> None:
    # API.md: the contract is kept in step with the code by a test
    in_app = {(method, path) for path, methods in app.routes.items() for method in methods}
    in_document = {(method, path) for method, path, _ in OPERATIONS}
    missing = sorted(in_app - in_document)
    extra = sorted(in_document - in_app)
    assert not missing, f"Routes of the app that openapi.yaml lacks: {missing}"
    assert not extra, f"Operations in openapi.yaml that the app does not have: {extra}"


def test_each_operation_id_names_its_chalice_view() -> None:
    # So a reader goes from the document to the handler in one search.
    wrong = {
        f"{method} {path}": (op.get("operationId"), app.routes[path][method].view_name)
        for method, path, op in OPERATIONS
        if path in app.routes
        and method in app.routes[path]
        and op.get("operationId") != app.routes[path][method].view_name
    }
    assert not wrong, f"operationId differs from the view's name (documented, view): {wrong}"


def test_only_sign_up_login_public_pages_and_the_local_stage_are_documented_as_public() -> None:
    # API.md: `Authorization: Bearer <token>` on every call but the public ones
    assert DOCUMENT["security"] == [{"bearerAuth": []}]
    public = {(method, path) for method, path, op in OPERATIONS if op.get("security") == []}
    assert public == PUBLIC


def test_the_local_routes_are_documented_as_local_only() -> None:
    # API.md "Local stage only": served only when the stage is `local`; every other answers 404
    assert LOCAL, "the app registers no /_local route"
    for method, path, op in OPERATIONS:
        where = f"{method} {path}"
        if (method, path) in LOCAL:
            assert op["tags"] == ["local"], where
            assert "local" in op["description"], where
            assert "404" in op["description"], where
            assert op["responses"]["404"] == {"$ref": "#/components/responses/LocalOnly"}, where
        else:
            assert "local" not in op["tags"], where


def _concrete(template: str) -> str:
    """A path of the template, its parameters naming records that do not exist."""
    return template.format(
        org_id="org_x",
        group_id="grp_x",
        client_id="cl_x",
        provider_id="pr_x",
        contact_id="ct_x",
        link_id="lk_x",
        kind="appointment_confirmation",
        email="nobody%40example.com",
        slug="no-such-practice",
        code="no-such-code",
        token="no-such-token",
    )


@pytest.fixture(scope="module")
def unwiped_api(moto_session: None) -> Iterator[Api]:
    """The app on the session's moto, not wiped between tests: for answers that touch no
    record (a method refused before any handler runs)."""
    with Client(app, stage_name="local") as client:
        yield Api(client)


UNDOCUMENTED_METHODS = [
    (method, template)
    for template, item in DOCUMENT["paths"].items()
    for method in ("GET", "PUT", "POST", "DELETE", "PATCH")
    if method.lower() not in item
]


@pytest.mark.parametrize(
    ("method", "template"), UNDOCUMENTED_METHODS, ids=[f"{m} {p}" for m, p in UNDOCUMENTED_METHODS]
)
def test_a_method_a_path_does_not_take_answers_405_in_the_error_shape(
    unwiped_api: Api, method: str, template: str
) -> None:
    # API.md conventions: never a 500, and errors in the contract's shape, for a method the
    # document does not list for the path (the fuzz run's coverage phase sends these too, in
    # `make fuzz`)
    answer = unwiped_api.call(
        method, _concrete(template), {} if method in ("POST", "PUT", "PATCH") else None
    )
    assert answer.status == 405, answer.raw[:300]
    assert answer.error_code() == "method_not_allowed"


@pytest.mark.parametrize(
    ("method", "template"),
    [(m, p) for m, p, _ in OPERATIONS],
    ids=[f"{m} {p}" for m, p, _ in OPERATIONS],
)
def test_signed_in_operations_answer_401_without_a_token(
    api: Api, method: str, template: str
) -> None:
    # API.md conventions: 401 with no session, on every call but the public ones
    path = _concrete(template)
    media = MEDIA_TYPES.get((method, template))
    if media:
        answer = api.call(method, path, raw="", headers={"content-type": media})
    else:
        answer = api.call(method, path, {} if method in ("POST", "PATCH", "PUT") else None)
    if (method, template) in LOCAL:
        assert answer.status == 200, answer.body  # the local stage's routes take no session
    elif (method, template) in SIGN_UP_AND_LOGIN | PUBLIC_FORMS:
        assert answer.status == 400, answer.body  # an empty body, not a missing session
    elif (method, template) in IAM_SIGNED:
        # R54: no SigV4 Authorization header, refused before the body is read
        assert (answer.status, answer.error_code()) == (403, "iam_signature_needed"), answer.body
    elif (method, template) in HOSTED_WITHOUT_SESSION:
        assert answer.status == HOSTED_WITHOUT_SESSION[method, template], answer.raw[:300]
    elif (method, template) in ANONYMOUS:
        assert answer.status in (400, 403, 404), answer.raw[:300]  # no session is asked for
    else:
        assert answer.status == 401, answer.body
        assert answer.error_code() == "unauthenticated"
    assert_documented(method, template, answer)


# Request bodies -------------------------------------------------------------------------------


def _body_schema_name(operation: dict[str, Any]) -> str:
    ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    return ref.rsplit("/", 1)[-1]


@pytest.mark.parametrize(
    ("method", "template", "operation"), WITH_BODY, ids=[f"{m} {p}" for m, p, _ in WITH_BODY]
)
def test_each_request_example_is_valid(method: str, template: str, operation: dict) -> None:
    # API.md: the contract's examples are usable as they stand; they cannot rot
    media = operation["requestBody"]["content"]["application/json"]
    assert "example" in media, f"{method} {template} has a body but no example"
    pointer = json_pointer(
        "paths", template, method.lower(), "requestBody", "content", "application/json", "schema"
    )
    problems = schema_errors(schema_validator(DOCUMENT, pointer), media["example"])
    assert not problems, f"The example of {method} {template} breaks its schema: {problems}"
    model = MODELS[_body_schema_name(operation)]
    model.model_validate_json(json.dumps(media["example"]))  # and the app's parser takes it


def _pydantic_models() -> dict[str, type[BaseModel]]:
    """Every pydantic model defined in a module of the schemas package, by class name."""
    found: dict[str, type[BaseModel]] = {}
    for info in pkgutil.iter_modules(schemas.__path__, f"{schemas.__name__}."):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if (
                isinstance(value, type)
                and issubclass(value, BaseModel)
                and value.__module__ == module.__name__
            ):
                assert name not in found, f"two request models are named {name}"
                found[name] = value
    return found


MODELS = _pydantic_models()
DOCUMENTED_MODELS = sorted(set(MODELS) & set(DOCUMENT["components"]["schemas"]))
# Keywords compared between pydantic's JSON Schema and the document's.
COMPARED = ("type", "format", "minLength", "maxLength", "minimum", "maximum", "maxItems", "pattern")


def _flatten(schema: dict[str, Any], resolve: Callable[[str], dict]) -> dict[str, Any]:
    """One property's constraints, references followed and `null` set apart as `nullable`."""
    nullable, model = False, None
    while True:
        if "$ref" in schema:
            model = schema["$ref"].rsplit("/", 1)[-1]
            schema = {**resolve(schema["$ref"]), **{k: v for k, v in schema.items() if k != "$ref"}}
        elif "anyOf" in schema:
            options = [option for option in schema["anyOf"] if option != {"type": "null"}]
            nullable = nullable or len(options) < len(schema["anyOf"])
            assert len(options) == 1, f"cannot compare anyOf {schema['anyOf']}"
            rest = {k: v for k, v in schema.items() if k != "anyOf"}
            schema = {**options[0], **rest}
        else:
            break
    flat: dict[str, Any] = {key: schema[key] for key in COMPARED if key in schema}
    if isinstance(flat.get("type"), list):
        kinds = [kind for kind in flat["type"] if kind != "null"]
        nullable = nullable or len(kinds) < len(flat["type"])
        flat["type"] = kinds[0]
    flat["nullable"] = nullable
    if "enum" in schema:
        flat["enum"] = sorted(value for value in schema["enum"] if value is not None)
    if schema.get("default") is not None:
        flat["default"] = schema["default"]
    if flat.get("type") == "object":
        flat["model"] = model
    if "items" in schema:
        flat["items"] = _flatten(schema["items"], resolve)
    return flat


def _differences(pydantic_side: dict, documented: dict, where: str) -> list[str]:
    """What pydantic enforces that the document does not say (or says otherwise).

    The document may add constraints pydantic's JSON Schema cannot show because a validator
    holds them (emails at most 254 characters, `\\S` for trimmed names, colour patterns); and
    pydantic's generic 10,000-character cap on every body string is not repeated where the
    document states a tighter length or a pattern."""
    found = []
    for key, value in pydantic_side.items():
        theirs = documented.get(key)
        if key == "items":
            found += _differences(value, theirs or {}, f"{where}[]")
        elif (
            key == "maxLength"
            and value == TEXT_MAX
            and ("pattern" in documented or documented.get("maxLength", value) < value)
        ):
            continue
        elif theirs != value:
            found.append(f"{where}: pydantic says {key}={value!r}, openapi.yaml {theirs!r}")
    return found


def _compare(model: type[BaseModel], documented: dict[str, Any], *, query: bool = False) -> None:
    own = model.model_json_schema()

    def pydantic_ref(ref: str) -> dict:
        return own["$defs"][ref.rsplit("/", 1)[-1]]

    def document_ref(ref: str) -> dict:
        return DOCUMENT["components"]["schemas"][ref.rsplit("/", 1)[-1]]

    name = model.__name__
    assert set(documented.get("properties", {})) == set(own["properties"]), name
    assert set(documented.get("required", [])) == set(own.get("required", [])), name
    if not query:
        assert documented.get("additionalProperties") is False, f"{name} must be closed"
    problems = []
    for field, schema in own["properties"].items():
        mine = _flatten(schema, pydantic_ref)
        theirs = _flatten(documented["properties"][field], document_ref)
        if query:
            mine["nullable"] = theirs["nullable"]  # a query parameter is absent, never null
        problems += _differences(mine, theirs, f"{name}.{field}")
    assert not problems, problems


@pytest.mark.parametrize("name", DOCUMENTED_MODELS)
def test_request_schemas_say_what_the_pydantic_models_enforce(name: str) -> None:
    # API.md conventions: limits (names 100, text 10,000), required fields, closed bodies
    _compare(MODELS[name], DOCUMENT["components"]["schemas"][name])


def test_every_request_body_is_a_pydantic_model_of_the_same_name() -> None:
    named = {f"{m} {p}": _body_schema_name(op) for m, p, op in WITH_BODY}
    assert all(name in MODELS for name in named.values()), named


QUERIES = [
    # API.md: GET /v1/orgs/{org_id}/clients ?status=&provider_id=&q=&limit=&cursor=
    ("/v1/orgs/{org_id}/clients", ListClientsQuery),
    # API.md: GET /v1/orgs/{org_id}/emails ?client_id=, paged (?limit=&cursor=)
    ("/v1/orgs/{org_id}/emails", EmailLogQuery),
    # API.md: GET /v1/orgs/{org_id}/audit ?client_id=, paged
    ("/v1/orgs/{org_id}/audit", AuditQuery),
    # API.md: GET …/clients/{client_id}/timeline, paged (B10)
    ("/v1/orgs/{org_id}/clients/{client_id}/timeline", PageQuery),
    # API.md: POST /v1/orgs/{org_id}/imports ?send_invites= (R18)
    ("/v1/orgs/{org_id}/imports", ImportQuery),
]


@pytest.mark.parametrize(("template", "model"), QUERIES, ids=[t for t, _ in QUERIES])
def test_list_query_parameters_are_the_pydantic_ones(template: str, model: type) -> None:
    item = DOCUMENT["paths"][template]
    parameters = item["get" if "get" in item else "post"]["parameters"]
    documented = {
        "properties": {p["name"]: p["schema"] for p in parameters if p["in"] == "query"},
        "required": [p["name"] for p in parameters if p["in"] == "query" and p.get("required")],
    }
    _compare(model, documented, query=True)


# Real answers -----------------------------------------------------------------------------------

ORG = "/v1/orgs/{org_id}"
CLIENTS = "/v1/orgs/{org_id}/clients"
CLIENT = "/v1/orgs/{org_id}/clients/{client_id}"
GROUP = "/v1/orgs/{org_id}/groups/{group_id}"
PROVIDER = "/v1/orgs/{org_id}/providers/{provider_id}"
APPOINTMENTS = "/v1/orgs/{org_id}/appointments"
EMAILS = "/v1/orgs/{org_id}/emails"
PREVIEWS = "/v1/orgs/{org_id}/email-previews"
PREVIEW = "/v1/orgs/{org_id}/email-previews/{kind}"


def test_sign_in_answers_match_the_document(api: Api) -> None:
    # API.md "Sign-in and accounts": login, switch, me, logout answer as documented (R2, R3)
    practice = sign_up_practice(api, "sunrise")
    signed_in = login(api, practice.admin_email)
    assert_documented("POST", "/v1/auth/login", signed_in)
    assert signed_in.body["account"] is not None  # one account: entered at once (R2)
    me = api.get("/v1/me", signed_in.body["token"])
    assert_documented("GET", "/v1/me", me)

    give_password(practice.admin_email)  # proven (R50), it may add a second practice
    sign_up_practice(api, "moonrise", admin_email=practice.admin_email)
    choosing = login(api, practice.admin_email)
    assert_documented("POST", "/v1/auth/login", choosing)
    assert choosing.body["account"] is None  # two accounts: the client chooses (R2)
    token = choosing.body["token"]
    assert_documented("GET", "/v1/me", api.get("/v1/me", token))
    account_id = choosing.body["accounts"][0]["account_id"]
    switched = api.post("/v1/auth/switch", {"account_id": account_id}, token)
    assert_documented("POST", "/v1/auth/switch", switched)
    logged_out = api.post("/v1/auth/logout", None, switched.body["token"])
    assert logged_out.status == 204
    assert_documented("POST", "/v1/auth/logout", logged_out)


def test_organization_answers_match_the_document(api: Api) -> None:
    # API.md "Organizations": sign-up, branding and settings, providers, groups
    signed_up = api.post(
        "/v1/orgs",
        {
            "name": "Sunrise Physiotherapy",
            "slug": "sunrise-physio",
            "admin": {
                "email": "ada@sunrise.example",
                "password": PASSWORD,
                "first_name": "Ada",
                "last_name": "Okafor",
            },
        },
    )
    assert_documented("POST", "/v1/orgs", signed_up)
    org_id, token = signed_up.body["org"]["id"], signed_up.body["token"]
    org = ORG.format(org_id=org_id)
    assert_documented("GET", ORG, api.get(org, token))
    example = DOCUMENT["paths"][ORG]["patch"]["requestBody"]["content"]["application/json"]
    assert_documented("PATCH", ORG, api.patch(org, example["example"], token))

    provider = api.post(
        f"{org}/providers",
        {"email": "grace@sunrise.example", "first_name": "Grace", "last_name": "Mensah"},
        token,
    )
    assert_documented("POST", ORG + "/providers", provider)
    provider_id = provider.body["provider"]["id"]
    one = PROVIDER.format(org_id=org_id, provider_id=provider_id)
    assert_documented("POST", PROVIDER + "/invite", api.post(f"{one}/invite", None, token))
    assert_documented(
        "DELETE", PROVIDER + "/invite", api.call("DELETE", f"{one}/invite", None, token)
    )
    assert_documented("POST", PROVIDER + "/invite", api.post(f"{one}/invite", None, token))
    assert staff.accept(
        staff_invite_secret(org_id, provider_id), PASSWORD, PASSWORD, "198.51.100.9"
    ).session_token
    assert_documented("PATCH", PROVIDER, api.patch(one, {"last_name": "Mensah-Ofori"}, token))
    assert_documented("POST", PROVIDER + "/deactivate", api.post(f"{one}/deactivate", {}, token))
    assert_documented("POST", PROVIDER + "/reactivate", api.post(f"{one}/reactivate", None, token))
    assert_documented("GET", ORG + "/providers", api.get(f"{org}/providers", token))

    group = api.post(
        f"{org}/groups",
        {
            "name": "Back pain",
            "intake_forms": ["Health history"],
            "portal_settings": {"features": {"journal": True}, "login_enabled": True},
            "default_provider_id": provider.body["provider"]["id"],
            "link_expires_at": "2099-06-30T23:59:59+02:00",
            "link_max_signups": 40,
        },
        token,
    )
    assert_documented("POST", ORG + "/groups", group)
    assert_documented("GET", ORG + "/groups", api.get(f"{org}/groups", token))
    group_path = GROUP.format(org_id=org_id, group_id=group.body["group"]["id"])
    assert_documented("PATCH", GROUP, api.patch(group_path, {"name": "Back pain (evening)"}, token))
    assert_documented(
        "POST", GROUP + "/invite-link", api.post(f"{group_path}/invite-link", None, token)
    )


def test_client_answers_match_the_document(api: Api, practice: Practice) -> None:
    # API.md "Clients": add, list (paged), read, change, archive, unarchive, set a password
    token, clients = practice.admin_token, CLIENTS.format(org_id=practice.id)
    maya = api.post(
        clients,
        {
            "first_name": "Maya",
            "last_name": "Lindqvist",
            "email": "maya@example.com",
            "phone": "+1 415 555 0134",
            "dob": "1988-04-12",
        },
        token,
    )
    assert_documented("POST", CLIENTS, maya)
    assert "invite" in maya.body["client"]
    no_email = api.post(clients, {"first_name": "Noor", "last_name": "Haddad"}, token)
    assert_documented("POST", CLIENTS, no_email)

    first_page = api.get(f"{clients}?limit=1", token)
    assert_documented("GET", CLIENTS, first_page)
    assert first_page.body["next_cursor"]  # a page with a cursor, documented as a string
    last_page = api.get(f"{clients}?limit=1&cursor={first_page.body['next_cursor']}", token)
    assert_documented("GET", CLIENTS, last_page)

    client = CLIENT.format(org_id=practice.id, client_id=maya.body["client"]["id"])
    assert_documented("GET", CLIENT, api.get(client, token))
    assert_documented("PATCH", CLIENT, api.patch(client, {"last_name": "Berg"}, token))
    assert_documented(
        "POST",
        CLIENT + "/password",
        api.post(f"{client}/password", {"password": "blue canoe at dawn"}, token),
    )
    assert_documented("POST", CLIENT + "/archive", api.post(f"{client}/archive", None, token))
    assert_documented("GET", CLIENTS, api.get(f"{clients}?status=archived", token))
    assert_documented("POST", CLIENT + "/unarchive", api.post(f"{client}/unarchive", None, token))


def test_error_answers_match_the_document(api: Api, practice: Practice) -> None:
    # API.md conventions: the error shape with 400, 401, 403, 404, 409, 413, 415 and 429
    token, clients = practice.admin_token, CLIENTS.format(org_id=practice.id)
    invalid = api.post(clients, {"first_name": "Maya"}, token)
    assert invalid.status == 400
    assert_documented("POST", CLIENTS, invalid)
    assert_documented("GET", "/v1/me", api.get("/v1/me"))
    missing = api.get(CLIENT.format(org_id=practice.id, client_id="cl_nobody"), token)
    assert missing.status == 404
    assert_documented("GET", CLIENT, missing)

    body = {"first_name": "Maya", "last_name": "Chen", "email": "maya@example.com"}
    assert api.post(clients, body, token).status == 201
    taken = api.post(clients, body, token)
    assert taken.status == 409
    assert taken.body["error"]["conflicting_client_ids"]
    assert_documented("POST", CLIENTS, taken)

    add_provider(api, practice, "grace")
    give_password("grace@sunrise.example")
    provider_token = login(api, "grace@sunrise.example").body["token"]
    forbidden = api.patch(ORG.format(org_id=practice.id), {"name": "Mine"}, provider_token)
    assert forbidden.status == 403
    assert_documented("PATCH", ORG, forbidden)

    too_large = api.post(clients, {"first_name": "x" * 1_000_001, "last_name": "Chen"}, token)
    assert too_large.status == 413
    assert_documented("POST", CLIENTS, too_large)
    plain = api.call(
        "POST", clients, raw="first_name=Maya", token=token, headers={"content-type": "text/plain"}
    )
    assert plain.status == 415
    assert_documented("POST", CLIENTS, plain)

    for _ in range(10):
        answer = api.post("/v1/auth/login", {"email": practice.admin_email, "password": "wrong!"})
        assert_documented("POST", "/v1/auth/login", answer)
    assert answer.status == 429
    headers = {name.lower(): value for name, value in answer.headers.items()}
    assert int(headers["retry-after"]) >= 1  # the header the document promises with 429


def _example(method: str, template: str) -> dict[str, Any]:
    operation = DOCUMENT["paths"][template][method.lower()]
    return dict(operation["requestBody"]["content"]["application/json"]["example"])


def test_appointment_and_email_answers_match_the_document(api: Api, practice: Practice) -> None:
    # API.md "Clients": appointments (R34, R44), the email log (R43); "Local stage only": the
    # outbox, drain and tick, with the worker running against moto's SQS and SES in process.
    token, org = practice.admin_token, ORG.format(org_id=practice.id)
    admin = api.get(f"{org}/providers", token).body["providers"][0]  # an admin is clinical
    maya = api.post(
        f"{org}/clients",
        {
            "first_name": "Maya",
            "last_name": "Chen",
            "email": "maya@example.com",
            "send_invite": False,  # only the appointment's emails here
        },
        token,
    )
    noor = api.post(f"{org}/clients", {"first_name": "Noor", "last_name": "Haddad"}, token)
    assert (maya.status, noor.status) == (201, 201)
    client_ids = [maya.body["client"]["id"], noor.body["client"]["id"]]
    body = {
        **_example("POST", APPOINTMENTS),
        "provider_id": admin["id"],
        "client_ids": client_ids,
        "starts_at": "2099-03-01T10:00:00+01:00",
    }
    booked = api.post(f"{org}/appointments", body, token)
    assert booked.status == 201, booked.body
    assert_documented("POST", APPOINTMENTS, booked)
    assert booked.body["appointment"]["starts_at"] == "2099-03-01T09:00:00Z"  # answered in UTC
    listed = api.get(f"{org}/appointments", token)
    assert_documented("GET", APPOINTMENTS, listed)
    assert [a["id"] for a in listed.body["appointments"]] == [booked.body["appointment"]["id"]]

    queued = api.get(f"{org}/emails", token)
    assert_documented("GET", EMAILS, queued)
    assert {(e["kind"], e["status"]) for e in queued.body["emails"]} == {
        ("appointment_confirmation", "queued")
    }
    assert sorted(e["client_id"] for e in queued.body["emails"]) == sorted(client_ids)
    first_page = api.get(f"{org}/emails?limit=1", token)
    assert_documented("GET", EMAILS, first_page)
    assert first_page.body["next_cursor"]  # a page with a cursor, documented as a string
    next_page = api.get(f"{org}/emails?limit=1&cursor={first_page.body['next_cursor']}", token)
    assert_documented("GET", EMAILS, next_page)
    one_client = api.get(f"{org}/emails?client_id={client_ids[0]}", token)
    assert_documented("GET", EMAILS, one_client)
    assert [e["client_id"] for e in one_client.body["emails"]] == [client_ids[0]]

    empty_outbox = api.get("/_local/outbox.json")
    assert_documented("GET", "/_local/outbox.json", empty_outbox)
    assert empty_outbox.body == []
    drained = api.post("/_local/drain")
    assert_documented("POST", "/_local/drain", drained)
    assert drained.body == {"sent": 1, "suppressed": 1, "dead": 0}  # Noor has no email (R11)
    ended = api.get(f"{org}/emails", token)
    assert_documented("GET", EMAILS, ended)
    outcomes = {e["client_id"]: (e["status"], e["reason"]) for e in ended.body["emails"]}
    assert outcomes == {client_ids[0]: ("sent", None), client_ids[1]: ("suppressed", "no_email")}
    outbox = api.get("/_local/outbox.json")
    assert_documented("GET", "/_local/outbox.json", outbox)
    assert [(e["kind"], e["to"]) for e in outbox.body] == [
        ("appointment_confirmation", "maya@example.com")
    ]
    assert_documented("GET", "/_local/outbox", api.get("/_local/outbox"))

    # The day before, the reminder (24 hours by default, R44) goes out with the tick.
    ticked = api.post("/_local/tick", {"now": "2099-02-28T09:30:00Z"})
    assert_documented("POST", "/_local/tick", ticked)
    assert ticked.body["reminders"] == 1
    assert (ticked.body["sent"], ticked.body["suppressed"]) == (1, 1)
    assert [e["kind"] for e in api.get("/_local/outbox.json").body] == [
        "appointment_confirmation",
        "appointment_reminder",
    ]
    assert_documented("POST", "/_local/tick", api.post("/_local/tick"))  # an empty body
    bad_now = api.post("/_local/tick", {"now": "tomorrow"})
    assert bad_now.status == 400
    assert_documented("POST", "/_local/tick", bad_now)


def test_email_preview_answers_match_the_document(api: Api, practice: Practice) -> None:
    # API.md: GET …/email-previews lists the kinds; GET …/email-previews/{kind} is text/html,
    # the kind in the organization's branding with sample data (B8)
    token, org = practice.admin_token, ORG.format(org_id=practice.id)
    api.patch(org, {"branding": {"display_name": "Sunrise Physio"}}, token)
    kinds = api.get(f"{org}/email-previews", token)
    assert_documented("GET", PREVIEWS, kinds)
    assert "appointment_confirmation" in kinds.body["kinds"]
    assert kinds.body["kinds"] == sorted(kinds.body["kinds"])
    for kind in kinds.body["kinds"]:
        preview = api.get(f"{org}/email-previews/{kind}", token)
        assert preview.status == 200, (kind, preview.raw[:300])
        assert_documented("GET", PREVIEW, preview)
    confirmation = api.get(f"{org}/email-previews/appointment_confirmation", token)
    assert b"Sunrise Physio" in confirmation.raw
    unknown = api.get(f"{org}/email-previews/birthday_card", token)
    assert unknown.status == 404
    assert unknown.error_code() == "email_kind_not_found"
    assert_documented("GET", PREVIEW, unknown)


@pytest.mark.parametrize(
    ("method", "template"), sorted(LOCAL), ids=[" ".join(r) for r in sorted(LOCAL)]
)
def test_the_local_routes_answer_404_in_every_other_stage(
    api: Api, monkeypatch: pytest.MonkeyPatch, method: str, template: str
) -> None:
    # API.md "Local stage only": every other stage answers 404
    monkeypatch.setattr(config, "STAGE", "prod")
    answer = api.call(method, template, {} if method == "POST" else None)
    assert answer.status == 404, answer.raw[:300]
    assert answer.error_code() == "not_found"
    assert_documented(method, template, answer)


def test_the_tick_with_a_bad_body_answers_404_in_every_other_stage(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # API.md "Local stage only": every other stage answers 404, whatever the body
    monkeypatch.setattr(config, "STAGE", "prod")
    answer = api.post("/_local/tick", {"now": "tomorrow"})
    assert answer.status == 404, answer.body


def test_import_answers_match_the_document(api: Api, practice: Practice) -> None:
    # API.md "Clients": POST /v1/orgs/{org_id}/imports, text/csv (R18)
    template = "/v1/orgs/{org_id}/imports"
    path = template.format(org_id=practice.id)
    example = DOCUMENT["paths"][template]["post"]["requestBody"]["content"]["text/csv"]["example"]
    add_provider(api, practice, "grace")
    api.post(f"/v1/orgs/{practice.id}/groups", {"name": "Back pain"}, practice.admin_token)
    csv_headers = {"content-type": "text/csv"}

    def send(body: str, query: str = "") -> Answer:
        return api.call(
            "POST", path + query, raw=body, token=practice.admin_token, headers=csv_headers
        )

    imported = send(example, "?send_invites=false")
    assert imported.status == 200, imported.body
    assert imported.body["created"] == 1, imported.body  # Noor names no provider, of two
    assert_documented("POST", template, imported)
    assert_documented("POST", template, send(example))  # again: skipped, with client ids
    assert_documented("POST", template, send("first_name\nMaya\n"))  # missing columns
    assert_documented("POST", template, send("x" * (5 * 1024 * 1024 + 1)))  # 413
    as_json = api.call("POST", path, {}, practice.admin_token)
    assert as_json.status == 415
    assert_documented("POST", template, as_json)


def test_public_answers_match_the_document(api: Api, practice: Practice) -> None:
    # API.md "Public": bookings and purchases (R17)
    for template in ("/v1/public/orgs/{slug}/bookings", "/v1/public/orgs/{slug}/purchases"):
        path = template.format(slug=practice.org["slug"])
        answer = api.post(path, _example("POST", template))
        assert answer.status == 201, answer.body
        assert_documented("POST", template, answer)
        assert_documented("POST", template, api.post(path, {"email": "x"}))
        unknown = api.post(template.format(slug="nowhere"), _example("POST", template))
        assert unknown.status == 404
        assert_documented("POST", template, unknown)
        staff = api.post(path, {**_example("POST", template), "email": practice.admin_email})
        assert staff.status == 201  # R51: answered as any other address
        assert_documented("POST", template, staff)


def test_join_page_answers_match_the_document(api: Api, practice: Practice) -> None:
    # API.md "HTML pages": GET, POST /join/{code}, the emailed confirmation link and the page
    # after it (R16, B3, R51)
    code = code_of(make_group(api, practice))
    page, submit, welcome = "/join/{code}", "/join/{code}", "/join/{code}/welcome"
    confirmation = "/join-confirm/{token}"
    browser = Browser(api)
    assert_documented("GET", page, browser.get(f"/join/{code}"))
    assert_documented("GET", page, browser.get(f"/join/{code}?step=sign_in"))
    assert_documented("GET", page, browser.get("/join/unknown-code-here"))
    bad = browser.post(f"/join/{code}", sign_up_fields(email="nope"))
    assert bad.status == 400
    assert_documented("POST", submit, bad)
    forged = browser.post(f"/join/{code}", sign_up_fields(), token="forged")
    assert forged.status == 403
    assert_documented("POST", submit, forged)
    asked = browser.post(f"/join/{code}", sign_up_fields())
    assert asked.status == 200  # check your email, for every address
    assert_documented("POST", submit, asked)
    link = confirm_path(practice, "maya@example.com")
    assert_documented("GET", confirmation, browser.get(link))
    assert_documented("GET", confirmation, browser.get("/join-confirm/no-such-link"))
    forged = browser.post(link, {}, token="forged")
    assert forged.status == 403
    assert_documented("POST", confirmation, forged)
    joined = browser.post(link, {})
    assert joined.status == 303
    assert_documented("POST", confirmation, joined)
    used = browser.post(link, {})
    assert used.status == 410
    assert_documented("POST", confirmation, used)
    assert_documented("GET", confirmation, browser.get(link))
    other = "not the login's password"
    again = Browser(api).post(
        f"/join/{code}", sign_up_fields(password=other, password_confirm=other)
    )
    assert again.status == 200  # the email has a login now: told by email, alike
    assert_documented("POST", submit, again)
    proven = Browser(api).post(
        f"/join/{code}?step=sign_in", {**sign_up_fields(), "step": "sign_in"}
    )
    assert proven.status == 409  # an active client of the practice, told after the password
    assert_documented("POST", submit, proven)
    assert_documented("GET", welcome, browser.get(f"/join/{code}/welcome"))
    assert_documented("GET", welcome, browser.get("/join/unknown-code-here/welcome"))


def test_onboarding_answers_match_the_document(api: Api, practice: Practice) -> None:
    # API.md: invites, resets, passcodes and their pages answer as documented (R14, R15, R20,
    # R22, B1)
    from tests.support.invites import invite_path, open_page, submit  # noqa: PLC0415

    token = practice.admin_token
    api.patch(ORG.format(org_id=practice.id), {"settings": {"otp_login": True}}, token)
    maya = api.post(
        CLIENTS.format(org_id=practice.id),
        {"first_name": "Maya", "last_name": "Chen", "email": "maya@example.com"},
        token,
    )
    assert_documented("POST", CLIENTS, maya)
    client = CLIENT.format(org_id=practice.id, client_id=maya.body["client"]["id"])
    assert_documented("GET", CLIENT, api.get(client, token))
    first = invite_path(practice, maya.body["client"]["id"])
    resent = api.post(f"{client}/invite", None, token)
    assert resent.status == 202
    assert_documented("POST", CLIENT + "/invite", resent)
    assert_documented("GET", "/invite/{token}", open_page(api, first)[0])  # 410
    assert_documented("GET", "/invite/{token}", open_page(api, "/invite/nope")[0])  # 404
    second = invite_path(practice, maya.body["client"]["id"])
    assert_documented("GET", "/invite/{token}", open_page(api, second)[0])  # 200
    assert_documented("POST", "/invite/{token}", submit(api, second, {"password": "x"}))  # 400
    assert_documented("POST", "/invite/{token}", submit(api, second, {}, csrf=False))  # 403
    accepted = submit(api, second, {"password": PASSWORD, "confirm": PASSWORD})
    assert accepted.status == 303
    assert_documented("POST", "/invite/{token}", accepted)
    assert_documented("POST", "/invite/{token}", submit(api, first, {"intent": "renew"}))  # 200
    again = api.post(f"{client}/invite", None, token)
    assert again.status == 409
    assert_documented("POST", CLIENT + "/invite", again)
    revoked = api.call("DELETE", f"{client}/invite", token=token)
    assert revoked.status == 409
    assert_documented("DELETE", CLIENT + "/invite", revoked)

    reset = api.post(f"{client}/password-reset", None, token)
    assert_documented("POST", CLIENT + "/password-reset", reset)
    asked = api.post("/v1/auth/password-reset", {"email": "maya@example.com"})
    assert_documented("POST", "/v1/auth/password-reset", asked)
    otp = api.post("/v1/auth/otp", {"email": "maya@example.com"})
    assert_documented("POST", "/v1/auth/otp", otp)
    wrong = api.post("/v1/auth/otp/verify", {"email": "maya@example.com", "code": "000000"})
    assert_documented("POST", "/v1/auth/otp/verify", wrong)


def test_hosted_sign_in_answers_match_the_document(api: Api, practice: Practice) -> None:
    # API.md "HTML pages" and POST /v1/auth/exchange (B9): the pages, the hand-over, the trade
    maya = "maya@example.com"  # a client at two practices: the chooser (R2)
    for at in (practice, sign_up_practice(api, "moonrise")):
        made = api.post(
            CLIENTS.format(org_id=at.id),
            {"first_name": "Maya", "last_name": "Chen", "email": maya, "send_invite": False},
            at.admin_token,
        )
        assert made.status == 201, made.body
    give_password(maya)
    browser = PageBrowser(api)
    assert_documented("GET", "/sign-in", browser.get("/sign-in?org=sunrise"))
    assert_documented("GET", "/sign-in", browser.get("/sign-in?code_challenge=x"))  # 400
    fields = {"email": maya, "password": "wrong password"}
    wrong = browser.post("/sign-in", fields)
    assert wrong.status == 400
    assert_documented("POST", "/sign-in", wrong)
    browser.csrf = "forged"
    assert_documented("POST", "/sign-in", browser.post("/sign-in", fields))  # 403
    assert_documented("GET", "/sign-in/choose", browser.get("/sign-in/choose"))  # 303
    browser.get("/sign-in")
    held = browser.post("/sign-in", {**fields, "password": PASSWORD})
    assert held.status == 303
    assert_documented("POST", "/sign-in", held)
    chooser = browser.follow(held)
    assert_documented("GET", "/sign-in/choose", chooser)
    refused = browser.post("/sign-in/choose", {"account_id": "client:org_x:cl_x"})
    assert refused.status == 400
    assert_documented("POST", "/sign-in/choose", refused)
    account_id = f"client:{practice.id}:"
    chosen = next(
        value
        for value in re.findall(r'name="account_id" value="([^"]+)"', refused.raw.decode())
        if value.startswith(account_id)
    )
    entered = browser.post("/sign-in/choose", {"account_id": chosen})
    assert_documented("POST", "/sign-in/choose", entered)
    traded = hand_over_exchange(api, hand_over_code(entered))
    assert_documented("POST", "/v1/auth/exchange", traded)
    assert_documented("POST", "/v1/auth/exchange", hand_over_exchange(api, hand_over_code(entered)))
    assert_documented("POST", "/v1/auth/exchange", api.post("/v1/auth/exchange", {}))  # 400
    token = traded.body["token"]
    other = PageBrowser(api).post("/sign-in/switch", {"session_token": token})
    assert other.status == 403
    assert_documented("POST", "/sign-in/switch", other)
    origin = {"origin": config.PUBLIC_URL}
    switching = PageBrowser(api)
    opened = switching.post("/sign-in/switch", {"session_token": token}, headers=origin)
    assert_documented("POST", "/sign-in/switch", opened)
    switching.follow(opened)
    out = switching.post("/sign-in/choose", {"intent": "sign_out"})
    assert out.status == 200
    assert_documented("POST", "/sign-in/choose", out)
