"""The package stays readable: each module fits on a screen or two, and each imports alone (no import
cycle: a value object never reaches back for a registry that builds on it)."""

from __future__ import annotations

import ast
import graphlib
import subprocess
import sys

import pytest

from local.infra import ROOT

PACKAGE = ROOT / "layers" / "ecluse"
MODULES = sorted(
    ".".join(path.relative_to(PACKAGE).with_suffix("").parts).removesuffix(".__init__")
    for path in (PACKAGE / "ecluse").rglob("*.py")
)


@pytest.mark.parametrize("module", MODULES)
def test_module_fits_in_250_lines(module):
    path = PACKAGE.joinpath(*module.split("."))
    source = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    assert len(source.read_text(encoding="utf-8").splitlines()) <= 250


def test_each_module_imports_alone_in_a_fresh_interpreter():
    script = "import importlib, sys\nimportlib.import_module(sys.argv[1])"
    failed = {}
    for module in MODULES:
        completed = subprocess.run(
            [sys.executable, "-c", script, module],
            env={"PYTHONPATH": str(PACKAGE), "PATH": "/usr/bin", "AWS_DEFAULT_REGION": "eu-west-3"},
            capture_output=True,
            text=True,
            check=False,
        )
        if completed.returncode:
            failed[module] = completed.stderr.strip().splitlines()[-1]
    assert not failed


def _imports(module: str) -> set[str]:
    """The package's modules `module` imports anywhere, function bodies included (a lazy import is how
    a cycle hides)."""
    path = PACKAGE.joinpath(*module.split("."))
    source = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    found = set()
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "ecluse":
            found |= {f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in MODULES}
            found |= {node.module} if node.module in MODULES else set()
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name in MODULES}
    return found - {module}


def test_no_module_imports_one_that_imports_it_back():
    graph = {module: _imports(module) for module in MODULES}
    graphlib.TopologicalSorter(graph).prepare()  # CycleError names the cycle


def test_status_and_source_import_nothing_of_ours():
    assert _imports("ecluse.status") == set()
