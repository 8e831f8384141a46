"""What a cold start leaves for later (docs/benchmarks.md): each handler imported in a fresh interpreter,
then what it imported, which AWS clients and model validators it built, and whether it loaded CA
certificates. A later import that brings one of these back onto a handler's import path fails here, not
silently in `make bench`."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from local.infra import FUNCTIONS, ROOT
from tests.cold_start import SETTINGS

PROBE = """
import gc, json, ssl, sys
import boto3

certificates = []
ssl.SSLContext.load_default_certs = lambda self, *args, **kwargs: certificates.append(1)
clients = []
boto3.setup_default_session()
boto3.DEFAULT_SESSION.events.register(
    "creating-client-class", lambda event_name, **_: clients.append(event_name.rsplit(".", 1)[-1])
)
sys.path[:0] = [sys.argv[1], sys.argv[2]]
import app
collector = {"enabled": gc.isenabled(), "frozen": gc.get_freeze_count(), "tracked": len(gc.get_objects())}
from pydantic import BaseModel


def models(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from models(sub)


built = sorted({m.__name__ for m in models(BaseModel) if m.__module__.startswith("ecluse") and m.__pydantic_complete__})
found = {"modules": sorted(sys.modules), "clients": clients, "certificates": len(certificates), "built": built}
found["gc"] = collector
print(json.dumps(found))
"""


@pytest.fixture(scope="module")
def cold() -> dict[str, dict]:
    found = {}
    for short in FUNCTIONS:
        completed = subprocess.run(
            [sys.executable, "-c", PROBE, str(ROOT / "functions" / short), str(ROOT / "layers" / "ecluse")],
            env={**SETTINGS, "PATH": "/usr/bin", "AWS_DEFAULT_REGION": "eu-west-3", "POWERTOOLS_LOG_LEVEL": "ERROR"},
            capture_output=True,
            text=True,
            check=True,
        )
        found[short] = json.loads(completed.stdout.splitlines()[-1])
    return found


@pytest.mark.parametrize("short", FUNCTIONS)
def test_the_xray_sdk_comes_with_the_first_event_not_the_import(cold, short):
    assert not [m for m in cold[short]["modules"] if m.split(".")[0] in ("aws_xray_sdk", "wrapt")]


@pytest.mark.parametrize("short", FUNCTIONS)
def test_no_handler_loads_ca_certificates_before_it_calls_an_https_endpoint(cold, short):
    """The monitor and the submitter call customs and status pages over urllib: the opener, and the SSL
    context it builds, come with the first call (ecluse.no_redirects)."""
    assert cold[short]["certificates"] == 0


@pytest.mark.parametrize(
    ("short", "created"),
    [("api", ["dynamodb"]), ("submit", ["dynamodb"]), ("release", ["dynamodb"]), ("monitor", ["dynamodb"])],
)
def test_a_handler_creates_at_import_only_the_clients_every_invocation_calls(cold, short, created):
    """SQS for the API's lodging routes, the submitter's retries and the release's sends, EventBridge for a
    deadline at risk: created at their first call (ecluse.aws.clients)."""
    assert cold[short]["clients"] == created


@pytest.mark.parametrize("short", ["submit", "release", "monitor", "publish"])
def test_only_the_api_builds_the_models_of_what_erps_and_operators_send(cold, short):
    """The body's models and the rules they run (ecluse.declarations, ecluse.rules), the fallback and status
    requests: classes pydantic takes milliseconds to build, which no other function validates. The others
    read the states (ecluse.life_cycle) and the re-integration rules (ecluse.reintegration)."""
    api_only = {"ecluse.declarations", "ecluse.rules", "ecluse.lodging", "ecluse.fallback", "ecluse.operations"}
    api_only |= {"ecluse.window_requests", "ecluse.feed_requests"}
    assert not api_only & set(cold[short]["modules"])


@pytest.mark.parametrize(
    ("short", "settings"),
    [
        ("api", "ApiSettings"),
        ("submit", "SubmitSettings"),
        ("release", "ReleaseSettings"),
        ("monitor", "MonitorSettings"),
        ("publish", "PublishSettings"),
    ],
)
def test_the_only_model_a_handler_builds_at_import_is_its_settings(cold, short, settings):
    """Every other model builds its validator when first used (defer_build): the declaration when the
    first one is lodged, a policy when the first status is read."""
    assert cold[short]["built"] == [settings]


def test_the_api_renders_the_fallback_document_only_when_asked(cold):
    modules = set(cold["api"]["modules"])
    assert not modules & {"fpdf", "PIL", "fontTools", "ecluse.fallback_document", "ecluse.fallback_pdf"}


def test_the_api_reads_the_consoles_sign_in_only_when_the_console_is_asked_for(cold):
    """It comes with each request's stage variables: nothing of it to do at cold start."""
    assert "ecluse.console_sign_in" not in cold["api"]["modules"]


@pytest.mark.parametrize("short", FUNCTIONS)
def test_a_handler_collects_garbage_again_once_imported_and_never_walks_what_its_init_built(cold, short):
    """The collector is off while the handler imports (docs/benchmarks.md): left off, every invocation's
    cycles would pile up until the environment ran out of memory. What the init built is frozen out of
    later collections (modules, clients, models: tens of thousands of objects that live as long as it)."""
    assert cold[short]["gc"]["enabled"]
    assert cold[short]["gc"]["frozen"] > 50_000
    assert cold[short]["gc"]["tracked"] < 1_000  # frozen at the end of the module: nothing of it left out


def test_the_submitter_imports_powertools_batch_before_pydantic(cold):
    """Powertools' batch utility imports its parser's record models (some thirty pydantic classes, ~10 ms)
    when pydantic is already loaded, only to annotate a `model=` argument the submitter does not use
    (`aws_lambda_powertools/utilities/batch/types.py`). The handler imports Powertools first."""
    assert not [m for m in cold["submit"]["modules"] if m.startswith("aws_lambda_powertools.utilities.parser")]
