"""What runs on Lambda is what the tests ran: each handler as `sam build` packages it for arm64, imported
in an interpreter that sees only the function's code, its layers and the runtime's boto3, and invoked
with its sample event against the template's tables and queues (local/parity.py)."""

from __future__ import annotations

import pytest

from local.infra import FUNCTIONS, TEMPLATE
from local.lambda_env import without_bytecode
from local.parity import check

OLD_LAYER = "!Sub arn:aws:lambda:${AWS::Region}:017000801446:layer:AWSLambdaPowertoolsPythonV3-python312-arm64:18"


@pytest.fixture(scope="module")
def report():
    return check()  # sam build first (cached under .aws-sam; a fresh clone fetches the arm64 wheels)


def test_every_handler_imports_and_answers_as_deployed(report):
    assert report.ok, report.text()
    assert set(report.invocations) == set(FUNCTIONS.values())
    assert report.invocations["ApiFunction"].answer["statusCode"] == 202
    # the console's files, read at run time beside the API's handler, ship in its build
    assert "ApiFunction: invoked with events/api-console-page.json: OK" in report.lines


def test_compiled_packages_ship_as_arm64_builds(report):
    listed = "\n".join(report.lines)
    assert "pydantic-core 2.46.5 compiled cp312-cp312-manylinux" in listed
    for line in report.lines:
        if " compiled " in line:
            assert line.rstrip().endswith("_aarch64"), line


def test_every_module_shipped_has_bytecode_that_lambda_can_use(report):
    """Lambda's /var/task and /opt are read-only: a module without bytecode, or whose bytecode is checked
    against an mtime the zip does not keep, is compiled again at every cold start (decision 9)."""
    assert not [problem for problem in report.problems if "bytecode" in problem]
    for function in report.functions.values():
        assert not without_bytecode(function.code)
        assert all(not layer.without_bytecode() for layer in function.layers)


def test_no_function_exceeds_the_unzipped_size_limit(report):
    sizes = [line for line in report.lines if "MB unzipped of 250 MB" in line]
    assert len(sizes) == len(FUNCTIONS), report.text()


def test_the_powertools_layer_the_template_attached_before_fails_every_cold_start(report):
    """Layer :18 carries Powertools 3.22.1 at most (3.23.0 shipped as layer 27): the API and the submit
    function could not even be imported. The check must say so, with Python's own words."""
    old = TEMPLATE.read_text().replace("      - !Ref RuntimeLayer\n", f"      - {OLD_LAYER}\n", 1)
    assert old != TEMPLATE.read_text()
    failed = check(old, build=False)  # the same build: only the layers differ
    assert not failed.ok
    assert (
        "ApiFunction: ImportError: cannot import name 'RequestUnsupportedContentType' from "
        "'aws_lambda_powertools.event_handler.openapi.exceptions'" in failed.text()
    )
    assert (
        "SubmitFunction: ModuleNotFoundError: No module named 'aws_lambda_powertools.utilities.circuit_breaker'"
        in failed.text()
    )
