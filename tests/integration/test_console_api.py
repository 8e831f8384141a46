"""GET /console: the operator console's page and files, served by the API function as Lambda runs it."""

from __future__ import annotations

import re

from local.infra import ROOT

CONSOLE = ROOT / "functions" / "api" / "console"


def test_the_page_is_served_with_a_policy_that_keeps_it_to_its_own_files_and_api(api):
    answer = api.invoke("GET", "/console")
    assert answer["statusCode"] == 200
    headers = {name: values[-1] for name, values in answer["multiValueHeaders"].items()}
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    policy = headers["Content-Security-Policy"]
    assert {"script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} <= set(policy.split("; "))
    assert '<script type="module" src="console/console.js">' in answer["body"]


def test_every_file_the_page_loads_is_served_and_nothing_else_is(api):
    """What index.html and the scripts reference (relative to /console, so /v1/console works on API
    Gateway) is served; a name the console does not have, or a path out of its folder, is a 404."""
    page = api.invoke("GET", "/console")["body"]
    wanted = {name for name in re.findall(r'(?:src|href)="console/([^"]+)"', page)}
    for script in CONSOLE.glob("*.js"):
        wanted |= set(re.findall(r'from "\./([^"]+)"', script.read_text()))
    assert wanted == {"console.css", "console.js", "api.js", "drain.js", "view.js", "favicon.svg"}
    for name in wanted:
        answer = api.invoke("GET", f"/console/{name}")
        assert answer["statusCode"] == 200, name
        assert answer["body"] == (CONSOLE / name).read_text()
    for name in ("app.py", "index.html", "..%2Fapp.py"):
        status, body = api.call("GET", f"/console/{name}")
        assert status == 404, name
        assert body["error"]["code"] in ("console_file_not_found", "route_not_found")


def test_the_console_works_offline_nothing_comes_from_another_host():
    for path in CONSOLE.iterdir():
        text = path.read_text().replace("http://www.w3.org/2000/svg", "")  # SVG's namespace, not a fetch
        assert not re.search(r"https?://|//[a-z0-9-]+\.[a-z]", text, re.I), path.name


def test_the_files_are_read_when_asked_for_not_at_cold_start(aws):
    from local.functions import load

    module = load("api", aws.env("api"))
    assert module._console_file.cache_info().currsize == 0
