"""`make run`: the whole system on this machine, with moto standing in for AWS.

Starts moto's server on loopback (DynamoDB, SQS, SES), creates the tables, serves the API with
`chalice local`, loads demo data through that API and prints the logins. Ctrl-C (or SIGTERM)
stops the API server and moto; nothing is left running.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent.parent

# `chalice local` with a longer listen queue. socketserver's default of 5 overflows when a burst
# of clients connects while the handler threads hold the GIL, and the kernel then resets some of
# those connections before the server reads them (twenty simultaneous requests do it here).
CHALICE_LOCAL = (
    "import sys; from chalice.local import ThreadedHTTPServer; "
    "ThreadedHTTPServer.request_queue_size = 128; "
    "from scripts.local_stack import redact_link_secrets; redact_link_secrets(); "
    "from chalice.cli import main; sys.exit(main())"
)

# Paths whose last part is a secret from an emailed link (invites, resets, caregiver invites,
# group join codes): `chalice local` logs every request line, and R48 keeps tokens out of logs.
SECRET_PATHS = re.compile(r"/(invite|reset|caregiver-invite|join)/[^\s?\"]+")


def redact(line: str) -> str:
    return SECRET_PATHS.sub(lambda m: f"/{m.group(1)}/[redacted]", line)


def redact_link_secrets() -> None:
    """Make `chalice local`'s request log (BaseHTTPRequestHandler.log_message, which every
    request line and error goes through) write link secrets as [redacted] (R48)."""
    from chalice.local import ChaliceRequestHandler  # noqa: PLC0415

    log_message = ChaliceRequestHandler.log_message

    def redacted(self: ChaliceRequestHandler, format: str, *args: object) -> None:
        log_message(self, "%s", redact(format % args))

    ChaliceRequestHandler.log_message = redacted


# Printed when the API server had to be killed: a stop should never come to that.
STOP_KILLED = "stop: killed"


def stack_environment(moto_port: int, api_port: int) -> dict[str, str]:
    """What separates the local stack from AWS: endpoints and fake credentials."""
    return {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{moto_port}",
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": "us-east-1",
        "PORTICO_STAGE": "local",
        "TABLE_PREFIX": "portico-local",
        "PUBLIC_URL": f"http://127.0.0.1:{api_port}",
    }


def serialize_dynamodb() -> None:
    """Make moto's DynamoDB answer one request at a time, as atomic as DynamoDB is.

    moto's server runs each request in a thread, and its DynamoDB backend has no lock: a
    TransactWriteItems checks its conditions and writes item by item, and on a failed condition
    puts back a copy of the tables taken at its start, undoing the writes other requests made
    meanwhile. Concurrent requests then break R1 and R12 in ways DynamoDB never would (and copying
    a table that another thread changes fails with a 500). One lock around each DynamoDB call
    gives the local stack DynamoDB's guarantees: each request atomic, transactions serializable.
    It cannot give DynamoDB's TransactionConflict cancellations; those only AWS produces.
    """
    from moto.dynamodb.responses import DynamoHandler  # noqa: PLC0415

    lock = threading.Lock()
    call_action = DynamoHandler.call_action

    def one_at_a_time(self: DynamoHandler) -> object:
        with lock:
            return call_action(self)

    DynamoHandler.call_action = one_at_a_time  # type: ignore[method-assign]


def wait_for_api(base_url: str, process: subprocess.Popen[bytes], seconds: float = 60) -> None:
    import requests  # noqa: PLC0415 (the runner's own dependency, loaded once here)

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"chalice local exited with {process.returncode}")
        try:
            requests.get(f"{base_url}/v1/me", timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.2)
    raise SystemExit("chalice local did not start in time")


def feed_worker_and_triggers(drain_every: float = 1.0, tick_every: float = 60.0) -> None:
    """`chalice local` serves HTTP only: do what SQS and EventBridge do on AWS, with the same
    functions the local stage's /_local/drain and /_local/tick run, so queued emails are sent
    within a second and reminders go out when due."""
    from chalicelib.services import local_stage  # noqa: PLC0415

    last_tick = 0.0
    while True:
        try:
            if time.monotonic() - last_tick >= tick_every:
                local_stage.tick()
                last_tick = time.monotonic()
            else:
                local_stage.drain()
        except Exception:
            logging.getLogger("portico_events").exception("local feeder round failed")
        time.sleep(drain_every)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--moto-port", type=int, default=int(os.environ.get("MOTO_PORT", "5055")))
    parser.add_argument("--no-demo", action="store_true", help="start empty, without demo data")
    args = parser.parse_args()

    env = stack_environment(args.moto_port, args.port)
    os.environ.update(env)  # before chalicelib is imported: configuration is read once

    from moto.server import ThreadedMotoServer  # noqa: PLC0415

    from chalicelib import infra  # noqa: PLC0415
    from scripts.moto_answers import plain_dynamodb_answers  # noqa: PLC0415
    from scripts.moto_journal import undo_by_item  # noqa: PLC0415

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-call access log
    serialize_dynamodb()
    undo_by_item()
    plain_dynamodb_answers()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=args.moto_port, verbose=False)
    moto.start()
    infra.create_all()

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    # Ctrl-C stops the stack even if it was started where SIGINT is ignored (a background job
    # of a non-interactive shell inherits that), so SIGINT to its process group always works.
    signal.signal(signal.SIGINT, stop)
    base_url = f"http://127.0.0.1:{args.port}"
    api: subprocess.Popen[bytes] | None = None
    try:
        api = subprocess.Popen(
            [
                sys.executable,
                "-c",
                CHALICE_LOCAL,
                "local",
                "--stage",
                "local",
                "--host",
                "127.0.0.1",
                "--port",
                str(args.port),
                "--no-autoreload",
            ],
            cwd=ROOT,
            env={**os.environ, **env},
        )
        wait_for_api(base_url, api)
        if not args.no_demo:
            from scripts import demo_data  # noqa: PLC0415

            demo_data.load(base_url)
        feeder = threading.Thread(target=feed_worker_and_triggers, daemon=True)
        feeder.start()
        print(f"Portico is serving {base_url} (moto on :{args.moto_port}). Ctrl-C stops it.")
        print(f"Sent emails: {base_url}/_local/outbox")
        sys.stdout.flush()
        api.wait()
    except KeyboardInterrupt:
        pass
    finally:
        if api is not None and api.poll() is None:
            api.terminate()
            try:
                api.wait(timeout=10)
            except subprocess.TimeoutExpired:
                api.kill()
                print(f"{STOP_KILLED}: chalice local did not stop within 10 s", flush=True)
        moto.stop()


if __name__ == "__main__":
    main()
    # Everything is stopped. Skip the interpreter's own teardown: after a busy session its
    # garbage collection over moto's in-memory data took longer than 15 s, all of it waiting.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
