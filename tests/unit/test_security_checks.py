"""What `make security` leaves to the suite: the vulnerability audit of what ships (pip-audit on the layers'
pins), and the rule that every check skipped is skipped for a reason written next to it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from local.infra import ROOT, TEMPLATE

SHIPPED = [ROOT / "layers" / "runtime" / "requirements.txt", ROOT / "layers" / "pdf" / "requirements.txt"]


def _audit() -> list[dict]:
    command = [sys.executable, "-m", "pip_audit", "--no-deps", "--disable-pip", "--progress-spinner", "off"]
    command += ["--format", "json", "--cache-dir", str(ROOT / ".pytest_cache" / "pip-audit")]
    for requirements in SHIPPED:
        command += ["--requirement", str(requirements)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    if not done.stdout.strip():
        pytest.fail(f"pip-audit gave no report: {done.stderr[-2000:]}")
    return json.loads(done.stdout)["dependencies"]


def test_no_pinned_dependency_has_a_known_vulnerability() -> None:
    dependencies = _audit()
    vulnerable = [
        f"{d['name']} {d['version']}: {v['id']} (fixed in {', '.join(v['fix_versions']) or 'no release yet'})"
        for d in dependencies
        for v in d.get("vulns", [])
    ]
    assert not vulnerable, "bump these pins (both layers' files, the runtime layer's parity test says where):\n" + (
        "\n".join(vulnerable)
    )
    unaudited = [d for d in dependencies if "skip_reason" in d]
    if unaudited and len(unaudited) == len(dependencies):
        # pip-audit asks PyPI's JSON API for each pinned version; a machine that reaches only PyPI's package
        # index (the simple API) gets 404 for every one: nothing was audited, which is not a pass
        pytest.skip(f"pip-audit could not reach its vulnerability service: {unaudited[0]['skip_reason']}")
    assert not unaudited, f"not audited while the others were: {unaudited}"


def _checkov_skips(node: object) -> list[dict]:
    if isinstance(node, dict):
        found = list(node.get("checkov", {}).get("skip", [])) if isinstance(node.get("checkov"), dict) else []
        return found + [s for v in node.values() for s in _checkov_skips(v)]
    return [s for v in node for s in _checkov_skips(v)] if isinstance(node, list) else []


def test_every_checkov_check_skipped_in_the_template_says_why() -> None:
    from samtranslator.yaml_helper import yaml_parse

    skips = _checkov_skips(yaml_parse(TEMPLATE.read_text())["Resources"])
    assert skips  # the walk finds them: there are some
    for skip in skips:
        assert re.fullmatch(r"CKV2?_AWS_\d+", skip["id"]), skip
        assert len(skip.get("comment", "").split()) >= 5, f"{skip['id']}: say why it does not apply, in a sentence"


def test_every_bandit_finding_silenced_in_shipped_code_names_its_check_and_says_why() -> None:
    shipped = [*(ROOT / "layers" / "ecluse").rglob("*.py"), *(ROOT / "functions").rglob("*.py")]
    for path in shipped:
        for number, line in enumerate(Path(path).read_text().splitlines(), 1):
            if "nosec" in line:
                assert re.search(r"# nosec B\d{3}: \S+( \S+){3,}", line), f"{path}:{number}: # nosec BXXX: reason"
