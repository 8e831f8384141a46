"""What a deployed function imports is what the tests import: one pin list per layer, installed by the
dev environment as it is, and no layer in the template that carries another Powertools (decision 9)."""

from __future__ import annotations

import re
from importlib.metadata import version

import pytest
from samtranslator.yaml_helper import yaml_parse

from local.infra import ROOT, TEMPLATE
from local.lambda_env import attached_layers, official_powertools_version

OLD_LAYER = "arn:aws:lambda:${AWS::Region}:017000801446:layer:AWSLambdaPowertoolsPythonV3-python312-arm64:18"


def _pins(path):
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if match := re.fullmatch(r"([A-Za-z0-9_.-]+)(\[[^\]]*\])?==(\S+)", line):
            pins[re.sub(r"[-_.]+", "-", match[1]).lower()] = match[3]
    return pins


def _included(path):
    return {line.split(None, 1)[1].strip() for line in path.read_text().splitlines() if line.startswith("-r ")}


def runtime_disagreements(template: dict) -> list[str]:
    """Every way the template's functions would run other versions than the tests: a layer of ours whose
    pins the dev environment does not install, or an official Powertools layer of another version."""
    dev = ROOT / "requirements-dev.txt"
    powertools = _pins(ROOT / "layers" / "runtime" / "requirements.txt")["aws-lambda-powertools"]
    problems = []
    for function, layers in attached_layers(template).items():
        for entry in layers:
            if isinstance(entry, dict) and "Ref" in entry:
                content = template["Resources"][entry["Ref"]]["Properties"]["ContentUri"]
                pins = ROOT / content / "requirements.txt"
                if pins.exists() and f"{content}/requirements.txt" not in _included(dev):
                    problems.append(f"{function}: {content}/requirements.txt is not what the tests install")
            elif (carried := official_powertools_version(entry)) != powertools:
                problems.append(f"{function}: the official layer carries Powertools {carried}, tests run {powertools}")
    return problems


@pytest.fixture
def template():
    return yaml_parse(TEMPLATE.read_text())


def test_every_function_runs_the_versions_the_tests_run(template):
    assert runtime_disagreements(template) == []


def test_the_dev_environment_has_exactly_each_layers_pins():
    dev = _pins(ROOT / "requirements-dev.txt")
    for layer in ("runtime", "pdf"):
        assert f"layers/{layer}/requirements.txt" in _included(ROOT / "requirements-dev.txt")
        for name, pinned in _pins(ROOT / "layers" / layer / "requirements.txt").items():
            assert version(name) == pinned, f"{name}: the tests run {version(name)}, {layer} layer ships {pinned}"
            assert dev.get(name, pinned) == pinned, f"requirements-dev.txt pins {name} apart from the layer"


def test_the_runtime_layer_lists_every_dependency_it_installs():
    """The layer is installed with --no-deps: a requirement missing from the list would be missing on Lambda."""
    from importlib.metadata import requires

    pins = _pins(ROOT / "layers" / "runtime" / "requirements.txt")
    for name in pins:
        for requirement in requires(name) or []:
            if "extra ==" in requirement:
                continue
            dependency = re.sub(r"[-_.]+", "-", re.split(r"[\s<>=!~;\[(]", requirement, maxsplit=1)[0]).lower()
            assert dependency in pins or dependency == "botocore", f"{name} needs {dependency}"


@pytest.mark.parametrize(
    ("layer", "disagrees"),
    [
        (OLD_LAYER, True),  # what the template attached: 3.22.1 at most
        ("{{resolve:ssm:/aws/service/powertools/python/arm64/python3.12/3.36.0}}", True),
        ("{{resolve:ssm:/aws/service/powertools/python/arm64/python3.12/3.37.0}}", False),
    ],
)
def test_an_official_layer_of_another_version_is_a_disagreement(template, layer, disagrees):
    template["Globals"]["Function"]["Layers"][0] = layer
    assert bool(runtime_disagreements(template)) is disagrees
