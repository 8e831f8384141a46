"""Headless Chromium from Debian's packages (`make`'s bootstrap installs chromium and chromium-driver),
driven by Selenium through chromedriver: nothing is downloaded at test time."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# Flags that work as root on a machine with no screen and a closed network: without the background
# networking ones Chromium tries Google's hosts at every start.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)
DESKTOP = (1280, 800)
PHONE = (390, 844)


@contextmanager
def chromium(network_log: bool = False) -> Iterator[Any]:
    """`network_log`: Chromium records what the page requests, read with `requests_sent`."""
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.fail(f"{CHROMIUM} or {CHROMEDRIVER} is missing: `make browser` installs them (apt)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="ecluse-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}", "--window-size=1280,800"):
        options.add_argument(flag)
    if network_log:
        options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        viewport(driver, *DESKTOP)
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def requests_sent(driver: Any) -> list[dict[str, Any]]:
    """What the browser requested since last asked (method, url, postData), from its DevTools log."""
    sent = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            sent.append(message["params"]["request"])
    return sent


def viewport(driver: Any, width: int, height: int) -> None:
    """The page's viewport itself (the window's size would include the browser's frame)."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
    )


def wait(driver: Any, what: str, condition: Callable[[Any], Any], seconds: float = 20) -> Any:
    """Wait for a condition in the page (polled by Selenium); fail saying what did not happen.

    The console redraws its tables every few seconds, so an element found in one poll can be gone when
    the condition reads it: that poll is retried rather than failing the test."""
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(
            driver, seconds, poll_frequency=0.1, ignored_exceptions=(StaleElementReferenceException,)
        ).until(condition)
    except TimeoutException:
        message = driver.execute_script("return document.getElementById('message')?.textContent || ''")
        pytest.fail(f"not {what} after {seconds} s (the console says: {message!r})")


def whole_element_screenshot(driver: Any, element_id: str, path: Path, width: int = DESKTOP[0]) -> None:
    """A screenshot of one element however tall: the viewport grows to the page's height for it."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    viewport(driver, width, height)
    driver.find_element("id", element_id).screenshot(str(path))
    viewport(driver, width, DESKTOP[1])


def row_texts(driver: Any, selector: str) -> list[str]:
    """The text of every row a selector finds, read in one script: no row can be redrawn between two reads."""
    texts: list[str] = driver.execute_script(
        "return [...document.querySelectorAll(arguments[0])].map(r => r.innerText);", selector
    )
    return texts
