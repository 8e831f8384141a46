"""Reading a status page's summary.json over HTTP (stdlib only: nothing more in the layer)."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from typing import Any

from ecluse.feed_config import FeedUnreadable, check_url
from ecluse.no_redirects import opener  # a moved page is reported, not followed

MAX_PAGE_BYTES = 1024 * 1024


class HttpPageReader:
    def __init__(self, timeout_seconds: float = 5.0) -> None:
        self._timeout = timeout_seconds

    def read(self, url: str) -> Any:
        check_url(url)
        request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310 (scheme checked)
        try:
            with opener().open(request, timeout=self._timeout) as response:
                raw = response.read(MAX_PAGE_BYTES + 1)
        except urllib.error.HTTPError as error:
            raise FeedUnreadable(f"the page answered HTTP {error.code}") from error
        except TimeoutError as error:
            raise FeedUnreadable(f"no answer within {self._timeout:g} s") from error
        except urllib.error.URLError as error:
            if isinstance(error.reason, TimeoutError | socket.timeout):
                raise FeedUnreadable(f"no answer within {self._timeout:g} s") from error
            raise FeedUnreadable("the page could not be reached") from error
        except (ConnectionError, OSError) as error:
            raise FeedUnreadable("the page could not be reached") from error
        if len(raw) > MAX_PAGE_BYTES:
            raise FeedUnreadable(f"the page is larger than {MAX_PAGE_BYTES} bytes")
        try:
            return json.loads(raw)
        except ValueError as error:
            raise FeedUnreadable("the page is not JSON") from error
