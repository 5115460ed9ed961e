"""The network edge of the provider clients: one small, replaceable HTTP transport.

The clients build complete requests (URL, headers, body) and hand them to a
`Transport`; production uses `urllib_transport`, tests pass a function that checks
the request and answers with a recorded provider response. Nothing else is replaced.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class HttpRequest:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes = b""


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


Transport = Callable[[HttpRequest], HttpResponse]


class ProviderError(RuntimeError):
    """The provider could not be reached or refused the request."""

    def __init__(self, message: str, status: int | None = None, body: str = "") -> None:
        super().__init__(f"{message} (status {status}): {body[:300]}" if status else message)
        self.status = status
        self.body = body


def urllib_transport(request: HttpRequest, timeout: float = 15.0) -> HttpResponse:
    """Send `request` over HTTPS with the standard library."""
    if not request.url.startswith("https://"):
        raise ProviderError(f"refusing a non-HTTPS provider URL: {request.url}")
    req = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        request.url, data=request.body or None, headers=request.headers, method=request.method
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310
            return HttpResponse(resp.status, resp.read(), dict(resp.headers.items()))
    except urllib.error.HTTPError as exc:
        return HttpResponse(exc.code, exc.read(), dict(exc.headers.items()))
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise ProviderError(f"could not reach {request.url}: {exc}") from exc
