"""`make package`: the prod deployment as one SAM/CloudFormation template and its zip, linted.

1. writes deploy/resources.json and .chalice/policy-prod.json from the code
   (scripts/deploy_template.py);
2. `chalice package --stage prod --merge-template deploy/resources.json build/`: build/sam.json
   and build/deployment.zip (needs a region and PyPI or PIP_FIND_LINKS, DESIGN "Known traps";
   chalice caches under .chalice/deployments, which git ignores);
3. `cfn-lint build/sam.json`: the template must pass it;
4. with `--checkov PATH` (`make package` gives its own environment's, .venv-checkov), checkov
   on build/sam.json: no failed check. What it would flag and the template answers otherwise
   is skipped on the resource with its reason (`deploy_template.CHECKOV_SKIPS`).

    .venv/bin/python -m scripts.package [--out build] [--no-lint] [--no-write] [--checkov PATH]

Deploy with `sam deploy --template-file build/sam.json` or `aws cloudformation package` then
`deploy` (README "Deployment").
"""

from __future__ import annotations

import argparse
import importlib.util
import marshal
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from scripts import deploy_template

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def package(
    out: Path, *, lint: bool = True, write: bool = True, checkov: Path | None = None
) -> Path:
    """Build the template and zip into `out`; return the template's path. With `write` false,
    stale generated files stop the build instead of being rewritten (the tests' mode)."""
    for path, text in deploy_template.rendered().items():
        if not path.exists() or path.read_text() != text:
            if not write:
                raise SystemExit(f"{path.relative_to(ROOT)} is stale: run `make package`")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
    # Chalice imports the app in the prod stage, which refuses to start without its settings:
    # placeholders here, the template's Parameters on AWS.
    env = {
        **os.environ,
        **deploy_template.PACKAGING_ENVIRONMENT,
        "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
    }
    env.pop("PAGE_SECRET", None)
    subprocess.run(
        [
            str(BIN / "chalice"),
            "package",
            "--stage",
            deploy_template.STAGE,
            "--merge-template",
            str(deploy_template.MERGE_TEMPLATE.relative_to(ROOT)),
            str(out),
        ],
        cwd=ROOT,
        env=env,
        check=True,
    )
    add_bytecode(out / "deployment.zip")
    template = out / "sam.json"
    if lint:
        subprocess.run([str(BIN / "cfn-lint"), str(template)], cwd=ROOT, check=True)
        print(f"cfn-lint: {template} passes")
    if checkov:
        subprocess.run(
            [
                str(checkov),
                "--file",
                str(template),
                "--framework",
                "cloudformation",
                "--compact",
                "--quiet",
                "--skip-download",  # offline: no guidelines from the vendor's platform
            ],
            cwd=ROOT,
            check=True,
        )
        print(f"checkov: {template} passes (skips and their reasons: deploy/resources.json)")
    return template


def add_bytecode(archive_path: Path) -> int:
    """Put Portico's own modules in the zip as bytecode beside their source.

    Lambda's /var/task is read-only, so Python cannot cache what it compiles there: without
    this, every cold start compiles app.py and chalicelib from source (about half of Portico's
    own import time, `make bench`). Unchecked-hash .pyc files are used without comparing them
    with the source's timestamp, which a zip does not keep faithfully. They are compiled by this
    interpreter, so the Lambda runtime must be the same Python version (Chalice picks it from
    this one)."""
    with zipfile.ZipFile(archive_path) as archive:
        sources = [
            name
            for name in archive.namelist()
            if name.endswith(".py") and (name == "app.py" or name.startswith("chalicelib/"))
        ]
        bytecode = {
            importlib.util.cache_from_source(name): _compiled(archive.read(name), name)
            for name in sources
        }
    with zipfile.ZipFile(archive_path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        present = set(archive.namelist())
        for name, data in bytecode.items():
            if name not in present:
                archive.writestr(name, data)
    return len(bytecode)


def _compiled(source: bytes, name: str) -> bytes:
    code = compile(source, name, "exec", dont_inherit=True)
    # PEP 552: flags 0b01 = hash-based, check_source 0 = unchecked.
    return (
        importlib.util.MAGIC_NUMBER
        + (0b01).to_bytes(4, "little")
        + importlib.util.source_hash(source)
        + marshal.dumps(code)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "build")
    parser.add_argument("--no-lint", action="store_true")
    parser.add_argument("--no-write", action="store_true", help="fail on stale generated files")
    parser.add_argument("--checkov", type=Path, help="checkov's executable: run it too")
    args = parser.parse_args()
    package(
        args.out.resolve(), lint=not args.no_lint, write=not args.no_write, checkov=args.checkov
    )


if __name__ == "__main__":
    main()
