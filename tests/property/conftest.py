"""Hypothesis profiles for the property tests: `ci` (the default, a few seconds per test, fit for `make
test` on a shared machine) and `soak` (many more and longer runs, for a quiet machine or a nightly job):

    HYPOTHESIS_PROFILE=soak .venv/bin/python -m pytest tests/property -q -p no:cacheprovider

No deadline: the shared machine's load says nothing about the code. No example database: a failure prints
its `@reproduce_failure` blob and its steps; keep a real one as an explicit regression test.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=400,
    stateful_step_count=50,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "soak",
    max_examples=3000,
    stateful_step_count=120,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
