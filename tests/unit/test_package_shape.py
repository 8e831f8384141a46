"""The package stays readable: each module fits on a screen or two, and each imports alone (no import
cycle: a value object never reaches back for a registry that builds on it)."""

from __future__ import annotations

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
