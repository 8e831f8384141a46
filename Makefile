# Each target bootstraps .venv from the repo's own files; nothing installed by hand is assumed.
SHELL := /bin/bash
PORT ?= 3000
VENV := .venv
CHECKOV_VENV := .venv-checkov
PY := $(VENV)/bin/python
# Lambda runs python3.12; find one that really runs (pyenv shims may exist without the version).
PYTHON312 := $(shell for p in python3.12 $$HOME/.pyenv/versions/3.12*/bin/python3.12 /usr/bin/python3.12 /usr/local/bin/python3.12; do \
	$$p -c 'import sys; assert sys.version_info[:2] == (3, 12)' >/dev/null 2>&1 && { echo $$p; break; }; done)

.PHONY: run test lint security typecheck browser parity bench soak fuzz openapi replay screenshots deploy clean

$(VENV)/.bootstrap-stamp: requirements-dev.txt layers/runtime/requirements.txt layers/pdf/requirements.txt
	@test -n "$(PYTHON312)" || { echo "python3.12 not found: install it (e.g. apt-get install python3.12 or pyenv install 3.12)"; exit 1; }
	$(PYTHON312) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

$(CHECKOV_VENV)/.bootstrap-stamp: requirements-checkov.txt
	@test -n "$(PYTHON312)" || { echo "python3.12 not found: install it (e.g. apt-get install python3.12 or pyenv install 3.12)"; exit 1; }
	$(PYTHON312) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -r requirements-checkov.txt
	touch $@

run: $(VENV)/.bootstrap-stamp
	PORT=$(PORT) $(PY) -m local.stack

lint: $(VENV)/.bootstrap-stamp
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(MAKE) --no-print-directory typecheck
	$(VENV)/bin/cfn-lint template.yaml
	SAM_CLI_TELEMETRY=0 PATH=$(dir $(PYTHON312)):$$PATH AWS_DEFAULT_REGION=eu-west-3 $(VENV)/bin/sam validate --lint --template template.yaml
	$(MAKE) --no-print-directory security

# checkov on the template (each skip justified next to its resource), bandit on what ships; pip-audit on the
# layers' pins runs in the suite (tests/unit/test_security_checks.py), which says when it could not ask
security: $(VENV)/.bootstrap-stamp $(CHECKOV_VENV)/.bootstrap-stamp
	$(VENV)/bin/bandit --quiet --recursive layers/ecluse functions
	$(CHECKOV_VENV)/bin/checkov --quiet --compact --skip-download --framework cloudformation --file template.yaml

# The tests' support modules: every module under tests/ but the tests themselves (test_*.py)
TEST_SUPPORT = $(strip $(foreach f,$(wildcard tests/*.py tests/*/*.py),$(if $(filter test_%,$(notdir $f)),,$f)))

# All that runs, strictly: the package; each handler on its own (they are all `app`, and mypy takes no two
# modules of one name in a run, --scripts-are-modules or not); local/ (make run's stack, the in-process
# loader, the parity check) with the tests' support modules, among them tests/typed_ports.py, which asserts
# the adapters and the in-memory twins satisfy the ports. pyproject.toml's section for the SAM translator
# is for that last run: the others never import it and would only say it went unused.
typecheck: $(VENV)/.bootstrap-stamp
	cd layers/ecluse && ../../$(VENV)/bin/mypy --strict --no-warn-unused-configs -p ecluse
	for handler in functions/*/app.py; do \
		MYPYPATH=layers/ecluse $(VENV)/bin/mypy --strict --no-warn-unused-configs $$handler || exit 1; done
	MYPYPATH=layers/ecluse $(VENV)/bin/mypy --strict local $(TEST_SUPPORT)

# The console's browser test drives Debian's Chromium through its driver: installed here where missing
# (as root, or with sudo), never downloaded by a test tool.
browser:
	@test -x /usr/bin/chromium -a -x /usr/bin/chromedriver || { \
		echo "installing Debian's chromium and chromium-driver (the console's browser test)"; \
		sudo=$$(test "$$(id -u)" = 0 || echo sudo); \
		$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq chromium chromium-driver >/dev/null; }

# tests/integration/test_deploy_parity.py runs the parity check inside the suite; `make parity` prints it
test: lint browser
	$(PY) -m pytest -n 2 --dist loadfile

# the console's screenshots in the README, from its browser test
screenshots: $(VENV)/.bootstrap-stamp browser
	CONSOLE_SCREENSHOTS=docs/console $(PY) -m pytest -q tests/e2e/test_console.py

parity: $(VENV)/.bootstrap-stamp
	$(PY) -m local.parity

bench: $(VENV)/.bootstrap-stamp
	$(PY) -m tests.bench

# the chaos suite at length: reproducible storms on the embedded AWS, then busy borders on the local stack
soak: $(VENV)/.bootstrap-stamp
	$(PY) -m tests.chaos.soak

# an incident's timeline (docs/incidents/) through the real lodging and release code on a simulated clock;
# its picture (PNG) is written beside it
replay: $(VENV)/.bootstrap-stamp
	@test -n "$(INCIDENT)" || { echo "usage: make replay INCIDENT=docs/incidents/<file>.json"; exit 2; }
	$(PY) -m tests.replay $(INCIDENT)

fuzz: $(VENV)/.bootstrap-stamp
	$(PY) -m local.fuzz

openapi: $(VENV)/.bootstrap-stamp
	$(PY) -m local.openapi > docs/openapi.json.tmp && mv docs/openapi.json.tmp docs/openapi.json

deploy: $(VENV)/.bootstrap-stamp
	PATH=$(dir $(PYTHON312)):$$PATH $(VENV)/bin/sam build && PATH=$(dir $(PYTHON312)):$$PATH $(VENV)/bin/sam deploy --guided

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .aws-sam .pytest_cache .ruff_cache .mypy_cache
