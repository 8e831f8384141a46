"""The one urllib opener Écluse calls HTTP endpoints with: it never follows a redirect, and it is built
when first used.

Never following: urllib copies every added header, Authorization included, to a redirect's target host
(the customs gateway's bearer token must reach the configured host only), and a status page that moved
is reported as unreadable rather than read from wherever it points. Built at first use: building it
creates the default SSL context, which loads the system's CA certificates, about a tenth of a function's
cold start (docs/benchmarks.md), while a monitor run with no feed to read and no window to probe, or an
API that never calls customs, needs none.
"""

from __future__ import annotations

import functools
import urllib.request


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_: object, **__: object) -> None:
        return None  # the 3xx is then raised as an HTTPError, answered by the caller


@functools.cache
def opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(_NoRedirects)
