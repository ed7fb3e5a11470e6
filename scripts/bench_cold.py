"""Cold start to first answer (issue #17): a fresh process imports `app` and answers one
`GET /v1/me` event against moto's server, beside a bare Chalice app that makes the same
DynamoDB reads with boto3 directly and answers.

moto's server runs on loopback in this process; a seeding subprocess creates the tables, signs
up one practice through the app and records the DynamoDB calls its `GET /v1/me` makes (those are
the bare app's reads, replayed as recorded). Then `runs` fresh interpreters of each, interleaved
so a busy moment hits both alike, from compiled bytecode as the packaged zip ships; each times
itself from its first import to the answer in hand (interpreter start-up excluded, as the cold
import figure does). Medians and their ratio.

    .venv/bin/python -m scripts.bench_cold [--runs 9]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from scripts import interpreters

# An API Gateway proxy event of `GET /v1/me`, as Lambda hands it to the function.
EVENT = """{
    "resource": "/v1/me", "path": "/v1/me", "httpMethod": "GET",
    "headers": {"authorization": "Bearer " + seeded["token"], "host": "api.example"},
    "multiValueHeaders": {}, "queryStringParameters": None, "multiValueQueryStringParameters": None,
    "pathParameters": None, "stageVariables": None, "body": None, "isBase64Encoded": False,
    "requestContext": {"resourcePath": "/v1/me", "httpMethod": "GET", "requestId": "cold-1",
                       "stage": "api", "identity": {"sourceIp": "127.0.0.1"}},
}"""
CONTEXT = (
    "types.SimpleNamespace(aws_request_id='cold-1', function_name='portico-api',"
    " memory_limit_in_mb=1024, log_stream_name='cold',"
    " invoked_function_arn='arn:aws:lambda:us-east-1:123456789012:function:portico-api')"
)
APP_ANSWER = f"""
import time; start = time.perf_counter()
import json, os, types
seeded = json.loads(open(os.environ["BENCH_COLD_SEED"]).read())
import app
answer = app.app({EVENT}, {CONTEXT})
print(json.dumps({{"seconds": time.perf_counter() - start, "status": answer["statusCode"],
                  "body": json.loads(answer["body"])}}))
"""
BARE_ANSWER = f"""
import time; start = time.perf_counter()
import json, os, types
seeded = json.loads(open(os.environ["BENCH_COLD_SEED"]).read())
import boto3, botocore
from chalice import Chalice
bare = Chalice(app_name="bare")

@bare.route("/v1/me")
def me():
    dynamodb = boto3.client("dynamodb", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
    answers = [getattr(dynamodb, botocore.xform_name(operation))(**params)
               for operation, params in seeded["reads"]]
    return {{"reads": len(answers)}}

answer = bare({EVENT}, {CONTEXT})
print(json.dumps({{"seconds": time.perf_counter() - start, "status": answer["statusCode"],
                  "body": json.loads(answer["body"])}}))
"""
ADMIN = "admin@cold.example"
PASSWORD = "correct horse battery staple"  # noqa: S105 (the benchmark's own practice)


def seed() -> dict[str, Any]:
    """In a subprocess pointed at moto's server: tables, one practice, and the DynamoDB calls
    the app's `GET /v1/me` makes (what the bare app replays)."""
    import botocore.client  # noqa: PLC0415 (after the environment names moto's server)
    from chalice.test import Client  # noqa: PLC0415

    from app import app  # noqa: PLC0415
    from chalicelib import infra  # noqa: PLC0415

    infra.create_all()
    body = {
        "name": "Practice Cold",
        "slug": "cold",
        "admin": {"email": ADMIN, "password": PASSWORD, "first_name": "A", "last_name": "B"},
    }
    with Client(app) as client:
        headers = {"content-type": "application/json"}
        made = client.http.post("/v1/orgs", headers=headers, body=json.dumps(body))
        assert made.status_code == 201, made.body
        token = json.loads(made.body)["token"]
        reads: list[tuple[str, dict[str, Any]]] = []
        original = botocore.client.BaseClient._make_api_call

        def recorded(self: Any, operation: str, params: dict[str, Any]) -> Any:
            if self.meta.service_model.service_name == "dynamodb":
                reads.append((operation, params))
            return original(self, operation, params)

        botocore.client.BaseClient._make_api_call = recorded
        try:
            me = client.http.get("/v1/me", headers={"authorization": f"Bearer {token}"})
        finally:
            botocore.client.BaseClient._make_api_call = original
        assert me.status_code == 200, me.body
    return {"token": token, "reads": reads, "me": json.loads(me.body)}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def environment(endpoint: str, seed_file: str, bytecode: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "cold",
            "AWS_SECRET_ACCESS_KEY": "cold",
            "AWS_DEFAULT_REGION": "us-east-1",
            "PORTICO_STAGE": "local",
            "TABLE_PREFIX": "portico-cold",
            "PASSWORD_HASH_COST": "low",
            "BENCH_COLD_SEED": seed_file,
            "PYTHONPYCACHEPREFIX": bytecode,
        }
    )
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def answer(code: str, env: dict[str, str]) -> dict[str, Any]:
    """One fresh interpreter's first answer: its seconds, status and body."""
    return last_json_line(["-c", code], env)


def last_json_line(arguments: list[str], env: dict[str, str]) -> dict[str, Any]:
    """What a fresh interpreter run with `arguments` printed last, as JSON."""
    found: dict[str, Any] = json.loads(interpreters.last_line(arguments, env))
    return found


def first_answers(runs: int) -> dict[str, Any]:
    """`runs` interleaved first answers of the app and of the bare app; medians and ratio.
    Also what the last app answer said (status, account), so a caller can check it."""
    from moto.server import ThreadedMotoServer  # noqa: PLC0415 (only this benchmark needs it)

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-call access log
    port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    try:
        with tempfile.TemporaryDirectory() as folder:
            seed_file = str(Path(folder) / "seed.json")
            env = environment(f"http://127.0.0.1:{port}", seed_file, str(Path(folder) / "pyc"))
            seeded = last_json_line(["-m", "scripts.bench_cold", "--seed"], env)
            Path(seed_file).write_text(json.dumps(seeded))
            answer(APP_ANSWER, env)  # compiles everything once into the bytecode cache
            answer(BARE_ANSWER, env)
            app_runs, bare_runs = [], []
            for _ in range(runs):
                app_runs.append(answer(APP_ANSWER, env))
                bare_runs.append(answer(BARE_ANSWER, env))
    finally:
        moto.stop()
    app_ms = 1000 * statistics.median(run["seconds"] for run in app_runs)
    bare_ms = 1000 * statistics.median(run["seconds"] for run in bare_runs)
    last = app_runs[-1]
    return {
        "runs": runs,
        "app_ms": round(app_ms, 1),
        "bare_ms": round(bare_ms, 1),
        "ratio": round(app_ms / bare_ms, 3),
        "reads": [operation for operation, _ in seeded["reads"]],
        "app_status": last["status"],
        "app_account_id": last["body"].get("account", {}).get("account_id"),
        "seeded_account_id": seeded["me"]["account"]["account_id"],
        "bare_status": bare_runs[-1]["status"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--seed", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.seed:
        print(json.dumps(seed()))
        return 0
    print(json.dumps(first_answers(args.runs), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
