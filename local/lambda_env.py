"""What Lambda loads for each function, rebuilt from `sam build`'s output, and a way to run it.

Lambda puts the function's code in /var/task, extracts each attached layer into /opt in order (a later
layer overwrites an earlier one's files), and imports the handler with sys.path = /var/task, the layers'
/opt/python/lib/python3.12/site-packages and /opt/python, then the runtime's own boto3. `Function.path()`
gives the same list over the build directory, the layers merged into one /opt of links (WORK_DIR/opt):
as many entries as on Lambda, which a search for each module walks; `Function.run()` starts a fresh
interpreter (local/lambda_bootstrap.py) that sees only that.

Two stand-ins, both explicit in the report:
- this machine is x86_64 and the artifacts are arm64: a compiled package (pydantic-core, wrapt, Pillow…)
  is checked to be a manylinux aarch64 build in the artifact, and its x86_64 wheel *of the same
  version* takes its place in /opt to run here; pure Python is the artifact's own files;
- the runtime's boto3 is the dev environment's boto3/botocore (Lambda's may be older or newer: the
  functions use no API younger than 2023, decision 9).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from local.infra import ROOT, TEMPLATE

SAM_DIR = ROOT / ".aws-sam"
BUILD_DIR = SAM_DIR / "build"
WORK_DIR = SAM_DIR / "parity"  # stand-ins for what is not ours to build: official layers, host wheels, boto3
LAMBDA_LIMIT_BYTES = 250 * 1000 * 1000  # unzipped, function and all its layers (Lambda quotas: 250 MB)
ARM64_WHEEL = ("--platform", "manylinux_2_28_aarch64", "--platform", "manylinux2014_aarch64")
RUNTIME_BOTO3 = ("boto3", "botocore", "s3transfer", "dateutil", "six", "urllib3", "jmespath")
# Published Powertools layer versions we know the content of; below 27 the layer carries 3.22.1 at
# most, so 3.22.1 stands in for them (the most a layer that old can offer).
POWERTOOLS_LAYERS = {27: "3.23.0"}
OFFICIAL_LAYER = re.compile(r"layer:AWSLambdaPowertoolsPythonV3-python312-arm64:(\d+)")
OFFICIAL_SSM = re.compile(r"/aws/service/powertools/python/arm64/python3\.12/(\d+\.\d+\.\d+)")


def sam_build() -> None:
    """`sam build` for arm64, reusing .aws-sam/cache; pip fetches what the cache lacks (fresh clone)."""
    python_dir = _python312_dir()
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0", "PATH": f"{python_dir}:{os.environ.get('PATH', '')}"}
    sam = Path(sys.executable).parent / "sam"
    completed = subprocess.run(
        [str(sam), "build", "--cached", "--parallel", "--template", str(TEMPLATE), "--build-dir", str(BUILD_DIR)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if completed.returncode:
        raise RuntimeError(f"sam build failed:\n{completed.stdout[-3000:]}{completed.stderr[-3000:]}")


def _python312_dir() -> str:
    if sys.version_info[:2] == (3, 12):  # the venv's own interpreter, with pip: what the Makefile found
        return str(Path(sys.executable).parent)
    found = shutil.which("python3.12")
    if not found:
        raise RuntimeError("sam build needs python3.12 on PATH")
    return str(Path(found).parent)


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    tags: tuple[str, ...]

    @property
    def compiled(self) -> bool:
        return not all(tag.endswith("-none-any") for tag in self.tags)

    @property
    def arm64(self) -> bool:
        return all(re.fullmatch(r"cp312-(cp312|abi3)-manylinux.*_aarch64", tag) for tag in self.tags)


@dataclass(frozen=True)
class Layer:
    name: str
    root: Path  # what Lambda extracts into /opt

    def packages(self) -> list[Package]:
        found = []
        for info in sorted((self.root / "python").glob("*.dist-info")):
            metadata = (info / "METADATA").read_text(errors="replace")
            name = re.search(r"^Name: (.+)$", metadata, re.M)
            version = re.search(r"^Version: (.+)$", metadata, re.M)
            tags = re.findall(r"^Tag: (.+)$", (info / "WHEEL").read_text(), re.M)
            if not (name and version):
                raise ValueError(f"{info} has no name or version")
            normalized = re.sub(r"[-_.]+", "-", name[1].strip()).lower()
            found.append(Package(normalized, version[1].strip(), tuple(tags)))
        return found

    def without_bytecode(self) -> list[Path]:
        return without_bytecode(self.root / "python")

    def contents(self) -> dict[str, Path]:
        """What this layer puts in /opt/python, by name, with the host's build of each compiled package in
        place of the arm64 one (this machine cannot run aarch64 code)."""
        found = {entry.name: entry for entry in (self.root / "python").iterdir()}
        for package in self.packages():
            if package.compiled:
                found.update({entry.name: entry for entry in _host_twin(package).iterdir()})
        return found


@dataclass
class Function:
    logical_id: str
    code: Path  # what Lambda puts in /var/task
    layers: list[Layer]
    handler: str
    memory: int
    timeout: int
    environment: dict[str, str] = field(default_factory=dict)

    def path(self) -> list[str]:
        return sys_path(self.code, self.layers)

    def size_bytes(self) -> int:
        return _size(self.code) + sum(_size(layer.root) for layer in self.layers)

    def run(self, event: Any, environment: dict[str, str]) -> Invocation:
        """Import the handler in a fresh interpreter and, given an event, invoke it once."""
        return run_python(
            self.path(),
            {
                "handler": self.handler,
                "function": self.logical_id,
                "memory": self.memory,
                "timeout_ms": self.timeout * 1000,
                "event": event,
            },
            {**lambda_variables(self), **self.environment, **environment},
        )


@dataclass(frozen=True)
class Invocation:
    ok: bool
    init_seconds: float | None
    invoke_seconds: float | None
    wall_seconds: float  # the interpreter's whole life, its exit included
    ready_seconds: float | None  # from starting the interpreter to the handler imported: a cold start
    ready_cpu_seconds: float | None  # the CPU time that took
    answer: Any
    error: dict[str, Any] | None
    logs: str

    @property
    def error_line(self) -> str:
        return f"{self.error['type']}: {self.error['message']}" if self.error else ""


def sys_path(code: Path, layers: list[Layer]) -> list[str]:
    """sys.path as Lambda sets it: the function's code (/var/task), /opt's two entries, where every layer
    was extracted, then the runtime's boto3. A function without layers has the same entries."""
    opt = _opt(layers) / "python"
    return [str(code), str(opt / "lib" / "python3.12" / "site-packages"), str(opt), str(_runtime_boto3())]


def _opt(layers: list[Layer]) -> Path:
    """/opt as Lambda leaves it, as links into the build: each layer extracted over the ones before it (a
    directory two layers ship holds both's files, a later file wins). Made once per content."""
    tree: dict[str, Any] = {}
    for layer in layers:
        _overlay(tree, layer.contents())
    key = hashlib.sha256(json.dumps(tree, default=str, sort_keys=True).encode()).hexdigest()[:16]
    opt = WORK_DIR / "opt" / key
    if not opt.exists():
        partial = opt.with_name(f"{key}.{os.getpid()}.partial")
        shutil.rmtree(partial, ignore_errors=True)
        _materialise(partial / "python", tree)
        try:
            partial.rename(opt)
        except OSError:  # another process made it
            shutil.rmtree(partial, ignore_errors=True)
    return opt


def _overlay(tree: dict[str, Any], entries: dict[str, Path]) -> None:
    for name, source in entries.items():
        present = tree.get(name)
        if source.is_dir() and present is not None and (isinstance(present, dict) or present.is_dir()):
            merged = present if isinstance(present, dict) else {entry.name: entry for entry in present.iterdir()}
            _overlay(merged, {entry.name: entry for entry in source.iterdir()})
            tree[name] = merged
        else:
            tree[name] = source


def _materialise(directory: Path, tree: dict[str, Any]) -> None:
    directory.mkdir(parents=True)
    for name, source in tree.items():
        if isinstance(source, dict):
            _materialise(directory / name, source)
        else:
            (directory / name).symlink_to(source)


def run_python(
    path: list[str], spec: dict[str, Any], environment: dict[str, str], *flags: str, wrapper: tuple[str, ...] = ()
) -> Invocation:
    """`flags` go to the interpreter (`-X importtime`: its report is in the invocation's logs), `wrapper` in
    front of it (`valgrind --tool=callgrind`)."""
    with tempfile.TemporaryDirectory(prefix="ecluse-lambda-") as scratch:
        spec_file, result_file = Path(scratch) / "spec.json", Path(scratch) / "result.json"
        spec_file.write_text(json.dumps({**spec, "path": path, "result": str(result_file)}))
        started, launched = time.perf_counter(), time.monotonic()
        completed = subprocess.run(
            [*wrapper, sys.executable, *flags, "-I", "-S", "-B", ROOT / "local" / "lambda_bootstrap.py", spec_file],
            env=environment,
            cwd=path[0],
            capture_output=True,
            text=True,
            timeout=120,
        )
        wall = time.perf_counter() - started
        if not result_file.exists():
            raise RuntimeError(f"the interpreter died: {completed.stderr[-2000:]}")
        result = json.loads(result_file.read_text())
    return Invocation(
        result["ok"],
        result.get("init_seconds"),
        result.get("invoke_seconds"),
        wall,
        result["ready_at"] - launched if "ready_at" in result else None,
        result.get("ready_cpu_seconds"),
        result.get("answer"),
        result.get("error"),
        completed.stdout + completed.stderr,
    )


def lambda_variables(function: Function) -> dict[str, str]:
    """The variables Lambda itself sets (the X-Ray trace header makes the Tracer trace, as deployed)."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        "AWS_REGION": "eu-west-3",
        "AWS_DEFAULT_REGION": "eu-west-3",
        "AWS_ACCESS_KEY_ID": "parity",
        "AWS_SECRET_ACCESS_KEY": "parity",
        "AWS_SESSION_TOKEN": "parity",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "AWS_LAMBDA_FUNCTION_NAME": function.logical_id,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function.logical_id}",
        "LAMBDA_TASK_ROOT": str(function.code),
        "_HANDLER": function.handler,
        "_X_AMZN_TRACE_ID": "Root=1-67891233-abcdef012345678912345678;Parent=53995c3f42cd8ad8;Sampled=1",
        "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
    }


def functions(template: Mapping[str, Any], build_dir: Path = BUILD_DIR) -> dict[str, Function]:
    """Every function of a (parsed) SAM template, with its layers in attach order, over build_dir."""
    globals_ = template.get("Globals", {}).get("Function", {})
    resources = template["Resources"]
    found = {}
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        properties = {**globals_, **resource["Properties"]}
        found[logical_id] = Function(
            logical_id,
            build_dir / logical_id,
            [_layer(entry, resources, build_dir) for entry in attached_layers(template)[logical_id]],
            properties["Handler"],
            int(properties.get("MemorySize", 128)),
            int(properties.get("Timeout", 3)),
        )
    return found


def attached_layers(template: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Each function's layers as the template writes them, in attach order (the Globals' first)."""
    globals_ = template.get("Globals", {}).get("Function", {}).get("Layers", [])
    return {
        logical_id: [*globals_, *resource["Properties"].get("Layers", [])]
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def _layer(entry: Any, resources: Mapping[str, Any], build_dir: Path) -> Layer:
    if isinstance(entry, dict) and "Ref" in entry:
        name = entry["Ref"]
        if resources.get(name, {}).get("Type") != "AWS::Serverless::LayerVersion":
            raise ValueError(f"layer {name} is not a layer of this template")
        return Layer(name, build_dir / name)
    version = official_powertools_version(entry)
    return Layer(f"Powertools {version} (official layer)", official_powertools_layer(version))


def official_powertools_version(entry: Any) -> str:
    """The Powertools version an official Powertools layer (by ARN or by its SSM parameter) carries."""
    text = entry.get("Fn::Sub", "") if isinstance(entry, dict) else str(entry)
    if ssm := OFFICIAL_SSM.search(text):
        return ssm[1]
    if arn := OFFICIAL_LAYER.search(text):
        number = int(arn[1])
        if version := POWERTOOLS_LAYERS.get(number) or ("3.22.1" if number < 27 else ""):
            return version
        raise ValueError(f"which Powertools the official layer :{number} carries is not known here")
    raise ValueError(f"cannot tell what layer {entry!r} carries")


def official_powertools_layer(version: str) -> Path:
    """A stand-in for Powertools' published arm64 layer of that version: the package and the extras our
    functions use (pydantic, aws-xray-sdk), arm64 wheels, as the layer ships them."""
    root = WORK_DIR / "official" / f"powertools-{version}"
    if not (root / "python").exists():
        extras = [
            line.strip()
            for line in (ROOT / "layers" / "runtime" / "requirements.txt").read_text().splitlines()
            if line.strip() and not line.startswith(("#", "aws-lambda-powertools"))
        ]
        _pip_target(root / "python", [f"aws-lambda-powertools=={version}", *extras], *ARM64_WHEEL)
    return root


def _host_twin(package: Package) -> Path:
    """The same version of a compiled package, built for this machine (it cannot run aarch64 code)."""
    target = WORK_DIR / "host" / f"{package.name}-{package.version}"
    if not target.exists():
        _pip_target(target, [f"{package.name}=={package.version}"])
    return target


def _pip_target(target: Path, requirements: list[str], *platform: str) -> None:
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    arch = [*platform, "--implementation", "cp", "--python-version", "3.12"] if platform else []
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "--only-binary=:all:",
            *arch,
            "--target",
            str(partial),
            *requirements,
        ],
        capture_output=True,
        text=True,
    )
    if completed.returncode:
        raise RuntimeError(f"pip could not install {requirements}:\n{completed.stderr[-3000:]}")
    partial.rename(target)


def _runtime_boto3() -> Path:
    """boto3 and what it imports, as the Lambda runtime provides them; nothing else of the dev venv."""
    target = WORK_DIR / "runtime"
    target.mkdir(parents=True, exist_ok=True)
    for name in RUNTIME_BOTO3:
        spec = find_spec(name)
        if spec is None or spec.origin is None:
            raise RuntimeError(f"{name} is not installed: the dev environment stands in for the runtime's boto3")
        source = Path(spec.origin)
        source = source.parent if source.name == "__init__.py" else source
        link = target / source.name
        with contextlib.suppress(FileExistsError):  # another process made it
            link.symlink_to(source)
    return target


def without_bytecode(root: Path) -> list[Path]:
    """The modules Lambda would compile at every cold start: no bytecode, or bytecode checked against the
    file's mtime, which the zip does not keep (/var/task and /opt are read-only: only hash-checked
    bytecode is of use there)."""
    return [source for source in sorted(root.rglob("*.py")) if not _hash_checked(source)]


def _hash_checked(source: Path) -> bool:
    compiled = source.parent / "__pycache__" / f"{source.stem}.{sys.implementation.cache_tag}.pyc"
    if not compiled.exists():
        return False
    with compiled.open("rb") as file:
        flags = int.from_bytes(file.read(8)[4:], "little")  # PEP 552: bit 0 set, the source's hash inside
    return bool(flags & 1)


def _size(root: Path) -> int:
    return sum(f.stat().st_size for f in root.rglob("*") if f.is_file() and not f.is_symlink())
