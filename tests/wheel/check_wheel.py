"""Build gwsnb's wheel and check it the way a user gets it: installed into a fresh virtual environment.

``make wheel-check`` (part of ``make test``) runs this script. It

1. builds the wheel (``pip wheel --no-deps``; hatchling is the build backend) and reads it: every file
   of the package in the repository must be in it, with the ``gwsnb`` console script, the metadata's
   ``Requires-Python`` and the extras the README names;
2. installs it *without extras* into a new virtual environment and, from a directory outside the
   checkout, imports every module of the package, runs ``gwsnb --help``, starts ``gwsnb sandbox``,
   checks that it answers ``GET /me``, and runs one ``gwsnb chained-records`` against it; a Parquet
   export must fail there with a message naming the ``parquet`` extra;
3. installs the ``parquet`` extra and exports the same records to Parquet, read back with pyarrow.

Anything missing or wrong stops it with ``wheel check FAILED: ...`` and exit status 1 (the scratch
directory, ``build/wheel-check`` by default, is then left as it was for a look).
"""

from __future__ import annotations

import argparse
import base64
import csv
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Sequence
from email.parser import Parser
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
PACKAGE = "gwsnb"
#: extras that must exist in the wheel's metadata, whatever the README says
REQUIRED_EXTRAS = ("parquet", "notebook")
PASSWORD_ENV = "GWSNB_WHEEL_CHECK_PASSWORD"


class CheckFailed(Exception):
    """One check of the wheel failed; the message says which and why."""


def say(message: str) -> None:
    print(f"wheel check: {message}", flush=True)


def run(cmd: Sequence[str | Path], *, cwd: Path, env: dict[str, str] | None = None, check: bool = True,
        timeout: float = 600) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)
    if check and proc.returncode != 0:
        raise CheckFailed(f"`{' '.join(map(str, cmd))}` exited with {proc.returncode}\n"
                          f"--- stdout\n{proc.stdout[-4000:]}\n--- stderr\n{proc.stderr[-4000:]}")
    return proc


# ------------------------------------------------------------------------------------------ the wheel file
def build_wheel(python: str, out: Path) -> Path:
    out.mkdir(parents=True)
    run([python, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", out, REPO], cwd=REPO)
    wheels = sorted(out.glob(f"{PACKAGE}-*.whl"))
    if len(wheels) != 1:
        raise CheckFailed(f"expected one {PACKAGE} wheel in {out}, found {[w.name for w in wheels]}")
    return wheels[0]


def package_files() -> list[str]:
    """The package's files in the checkout: git's list when there is one, else a walk without caches."""
    proc = subprocess.run(["git", "ls-files", "--", PACKAGE], cwd=REPO, capture_output=True, text=True)
    if proc.returncode == 0 and proc.stdout.strip():
        return sorted(line for line in proc.stdout.splitlines() if (REPO / line).is_file())
    return sorted(str(p.relative_to(REPO)) for p in (REPO / PACKAGE).rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc")


def readme_extras() -> set[str]:
    """Extras the README tells users to install: every ``gwsnb[a,b]`` it shows."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    return {extra.strip() for group in re.findall(r"\bgwsnb\[([A-Za-z0-9_,\s-]+)\]", text)
            for extra in group.split(",") if extra.strip()}


def check_wheel_file(wheel: Path) -> dict[str, list[str]]:
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        dist_info = {n.split("/", 1)[0] for n in names if n.split("/", 1)[0].endswith(".dist-info")}
        if len(dist_info) != 1:
            raise CheckFailed(f"{wheel.name}: expected one .dist-info directory, found {sorted(dist_info)}")
        info = dist_info.pop()
        metadata = Parser().parsestr(zf.read(f"{info}/METADATA").decode("utf-8"))
        entry_points = zf.read(f"{info}/entry_points.txt").decode("utf-8")

    missing = [f for f in package_files() if f not in names]
    if missing:
        raise CheckFailed(f"{wheel.name} lacks {len(missing)} file(s) of the package: {', '.join(missing)}")
    foreign = sorted(n for n in names if not (n.startswith(f"{PACKAGE}/") or n.startswith(f"{info}/")))
    if foreign:
        raise CheckFailed(f"{wheel.name} holds files outside the package: {', '.join(foreign)}")
    if any("__pycache__" in n or n.endswith(".pyc") for n in names):
        raise CheckFailed(f"{wheel.name} holds compiled caches")
    if not re.search(r"^\[console_scripts\]\s*$[^\[]*^gwsnb\s*=\s*gwsnb\.cli:main\s*$", entry_points, re.M):
        raise CheckFailed(f"{wheel.name}: no `gwsnb = gwsnb.cli:main` console script in entry_points.txt")
    if metadata.get("Requires-Python", "").replace(" ", "") != ">=3.10":
        raise CheckFailed(f"{wheel.name}: Requires-Python is {metadata.get('Requires-Python')!r}, expected >=3.10")

    extras = check_extras(wheel.name, metadata)
    say(f"{wheel.name}: {len(names)} files, every package file present, console script, extras "
        f"{', '.join(sorted(extras))}")
    return extras


def check_extras(wheel_name: str, metadata: Any) -> dict[str, list[str]]:
    """The wheel's extras (name -> requirements); the README's and this check's extras must be there."""
    extras: dict[str, list[str]] = {name: [] for name in metadata.get_all("Provides-Extra") or []}
    for req in metadata.get_all("Requires-Dist") or []:
        found = re.search(r"""extra\s*==\s*['"]([^'"]+)['"]""", req)
        if found and found.group(1) in extras:
            extras[found.group(1)].append(req.split(";")[0].strip())
    wanted = set(REQUIRED_EXTRAS) | readme_extras()
    absent = sorted(wanted - set(extras))
    if absent:
        raise CheckFailed(f"{wheel_name}: extra(s) {', '.join(absent)} named by the README or this check are "
                          f"not in the metadata (it has: {', '.join(sorted(extras))})")
    if not any(r.lower().startswith("pyarrow") for r in extras["parquet"]):
        raise CheckFailed(f"{wheel_name}: the parquet extra does not bring pyarrow: {extras['parquet']}")
    for needed in ("jupyterlab", "ipykernel"):
        if not any(r.lower().startswith(needed) for r in extras["notebook"]):
            raise CheckFailed(f"{wheel_name}: the notebook extra does not bring {needed}: {extras['notebook']}")
    return extras


# ------------------------------------------------------------------------------------ the installed wheel
class Venv:
    def __init__(self, root: Path, base_python: str, cwd: Path) -> None:
        self.root = root
        self.cwd = cwd  # outside the checkout, so that `import gwsnb` cannot find the repository's copy
        run([base_python, "-m", "venv", root], cwd=cwd)
        self.bin = root / ("Scripts" if os.name == "nt" else "bin")
        self.python = self.bin / "python"
        self.env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
        self.env["PATH"] = f"{self.bin}{os.pathsep}{self.env.get('PATH', '')}"

    def pip_install(self, requirement: str) -> None:
        run([self.python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", requirement],
            cwd=self.cwd, env=self.env)

    def python_code(self, code: str, *args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
        return run([self.python, "-c", code, *args], cwd=self.cwd, env=self.env, **kw)

    def gwsnb(self, *args: str, extra_env: dict[str, str] | None = None,
              check: bool = True) -> subprocess.CompletedProcess[str]:
        return run([self.bin / "gwsnb", *args], cwd=self.cwd, env={**self.env, **(extra_env or {})}, check=check,
                   timeout=180)


_IMPORT_ALL = """
import importlib, json, pkgutil, sys
import gwsnb
names = sorted(m.name for m in pkgutil.walk_packages(gwsnb.__path__, "gwsnb."))
for name in names:
    importlib.import_module(name)
from importlib.metadata import version
print(json.dumps({"file": gwsnb.__file__, "modules": names, "version": version("gwsnb"),
                  "python": sys.version.split()[0]}))
"""


def check_imports(venv: Venv) -> None:
    out = json.loads(venv.python_code(_IMPORT_ALL).stdout)
    if not Path(out["file"]).resolve().is_relative_to(venv.root.resolve()):
        raise CheckFailed(f"`import gwsnb` found {out['file']}, not the installed wheel in {venv.root}")
    with_extras = venv.python_code("import pyarrow", check=False)
    if with_extras.returncode == 0:
        raise CheckFailed("pyarrow is importable in the venv without extras: the core pulls it in")
    say(f"import gwsnb {out['version']} on Python {out['python']} from the venv; all "
        f"{len(out['modules'])} modules import without extras")


def check_help(venv: Venv) -> None:
    text = venv.gwsnb("--help").stdout
    for command in ("sandbox", "chained-records"):
        if command not in text:
            raise CheckFailed(f"`gwsnb --help` does not list {command!r}:\n{text}")
    say("gwsnb --help lists sandbox and chained-records")


class SandboxProcess:
    """`gwsnb sandbox --port 0` from the venv; its banner gives the URL, campaign, application and handles."""

    def __init__(self, venv: Venv) -> None:
        self.proc = subprocess.Popen(
            [str(venv.bin / "gwsnb"), "sandbox", "--port", "0", "--chains", "60", "--seed", "3"],
            cwd=venv.cwd, env=venv.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.banner: list[str] = []
        deadline = time.monotonic() + 60
        assert self.proc.stdout is not None
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.banner.append(line.rstrip("\n"))
            if line.startswith("Press Ctrl-C"):
                break
        text = "\n".join(self.banner)
        fields = {
            "url": r"running at (\S+)",
            "campaign": r"campaign\s*:\s*(\S+)",
            "application_id": r"application id\s*:\s*(\d+)",
            "handles": r"record handles\s*:\s*([\d, ]+?)\s{2}",
        }
        found = {k: re.search(p, text) for k, p in fields.items()}
        if not all(found.values()):
            self.stop()
            raise CheckFailed(f"`gwsnb sandbox` did not print its banner within 60 s:\n{text}")
        self.url = found["url"].group(1)  # type: ignore[union-attr]
        self.campaign = found["campaign"].group(1)  # type: ignore[union-attr]
        self.application_id = found["application_id"].group(1)  # type: ignore[union-attr]
        self.handles = [h.strip() for h in found["handles"].group(1).split(",")]  # type: ignore[union-attr]

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def check_me(sandbox: SandboxProcess) -> None:
    token = base64.b64encode(b"agent:agent").decode("ascii")
    req = urllib.request.Request(sandbox.url + "/me", headers={"Authorization": f"Basic {token}"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        status, body = resp.status, json.loads(resp.read())
    if status != 200 or body.get("statusCode") != 0 or body.get("user", {}).get("userName") != "agent":
        raise CheckFailed(f"GET {sandbox.url}/me answered {status} {body}")
    say(f"gwsnb sandbox answers GET /me at {sandbox.url}")


def chained_records(venv: Venv, sandbox: SandboxProcess, *fmt: str, check: bool = True
                    ) -> subprocess.CompletedProcess[str]:
    return venv.gwsnb("chained-records", "--url", sandbox.url, "--user", "agent", "--password-env", PASSWORD_ENV,
                      "--campaign", sandbox.campaign, "--application-id", sandbox.application_id,
                      "--handles", ",".join(sandbox.handles), "--no-progress", *fmt,
                      extra_env={PASSWORD_ENV: "agent"}, check=check)


def check_chained_records_csv(venv: Venv, sandbox: SandboxProcess) -> list[dict[str, str]]:
    proc = chained_records(venv, sandbox, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    got = {row["record_handle"] for row in rows}
    if not rows or not set(sandbox.handles) <= got:
        raise CheckFailed(f"gwsnb chained-records: handles {sandbox.handles} not all in the records {sorted(got)}"
                          f"\n{proc.stdout[:2000]}\n{proc.stderr[-2000:]}")
    if "General" not in {row["record_type"] for row in rows}:
        raise CheckFailed("gwsnb chained-records: no record reads record_type 'General'")
    say(f"gwsnb chained-records: {len(rows)} records of handles {', '.join(sandbox.handles)} as CSV")
    return rows


def check_parquet_needs_the_extra(venv: Venv, sandbox: SandboxProcess, out: Path) -> None:
    proc = chained_records(venv, sandbox, "--format", "parquet", "--out", str(out), check=False)
    if proc.returncode == 0 or "gwsnb[parquet]" not in proc.stderr:
        raise CheckFailed(f"a Parquet export without pyarrow should fail naming gwsnb[parquet]; exit "
                          f"{proc.returncode}, stderr:\n{proc.stderr[-2000:]}")
    say("without the parquet extra, a Parquet export fails naming gwsnb[parquet]")


def check_parquet(venv: Venv, sandbox: SandboxProcess, out: Path, rows: list[dict[str, str]]) -> None:
    chained_records(venv, sandbox, "--format", "parquet", "--out", str(out))
    read = venv.python_code(
        "import json, sys, pyarrow.parquet as pq; t = pq.read_table(sys.argv[1]); "
        "print(json.dumps({'rows': t.num_rows, 'handles': sorted(set(map(str, t['record_handle'].to_pylist())))}))",
        str(out))
    table = json.loads(read.stdout)
    expected = sorted({row["record_handle"] for row in rows})
    if table["rows"] != len(rows) or table["handles"] != expected:
        raise CheckFailed(f"Parquet export: {table}, expected {len(rows)} rows of handles {expected}")
    say(f"with the parquet extra: {table['rows']} records exported to Parquet and read back with pyarrow")


# ------------------------------------------------------------------------------------------------- main
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", default=sys.executable,
                        help="interpreter that builds the wheel and the virtual environment (default: this one)")
    parser.add_argument("--workdir", type=Path, default=REPO / "build" / "wheel-check",
                        help="scratch directory, emptied first (default build/wheel-check)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the virtual environment after a pass (it is always kept after a failure)")
    args = parser.parse_args(argv)

    work: Path = args.workdir.resolve()
    shutil.rmtree(work, ignore_errors=True)
    outside = work / "cwd"
    outside.mkdir(parents=True)
    sandbox: SandboxProcess | None = None
    try:
        wheel = build_wheel(args.python, work / "dist")
        check_wheel_file(wheel)
        venv = Venv(work / "venv", args.python, outside)
        venv.pip_install(str(wheel))
        check_imports(venv)
        check_help(venv)
        sandbox = SandboxProcess(venv)
        check_me(sandbox)
        rows = check_chained_records_csv(venv, sandbox)
        check_parquet_needs_the_extra(venv, sandbox, work / "records.parquet")
        venv.pip_install(f"{wheel}[parquet]")
        check_parquet(venv, sandbox, work / "records.parquet", rows)
        status = sandbox.stop()
        sandbox = None
        if status != 0:
            raise CheckFailed(f"`gwsnb sandbox` exited with {status} on SIGTERM")
    except (CheckFailed, subprocess.TimeoutExpired, OSError) as exc:
        print(f"wheel check FAILED: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        if sandbox is not None:
            sandbox.stop()
    if not args.keep:
        shutil.rmtree(work / "venv", ignore_errors=True)
    say("passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
