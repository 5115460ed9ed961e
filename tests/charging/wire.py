"""A tiny synchronous OCPP-J client for tests: raw frames, no `ocpp` library."""

from __future__ import annotations

import base64
import itertools
import json
from typing import Any

from websockets.sync.client import ClientConnection, connect

_ids = itertools.count(1)


def auth(identity: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{identity}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


class Wire:
    def __init__(
        self, url: str, identity: str, password: str, version: str = "ocpp1.6", **options: Any
    ) -> None:
        self.ws: ClientConnection = connect(
            f"{url}/{identity}",
            subprotocols=[version],  # type: ignore[list-item]
            additional_headers=auth(identity, password),
            open_timeout=10,
            max_size=None,
            **options,
        ).__enter__()

    def send_raw(self, frame: str) -> Any:
        self.ws.send(frame)
        return json.loads(self.ws.recv(timeout=10))

    def call(self, action: str, payload: dict[str, Any], uid: str | None = None) -> Any:
        uid = uid or f"t{next(_ids)}"
        answer = self.send_raw(json.dumps([2, uid, action, payload]))
        assert answer[1] == uid, answer
        return answer

    def ok(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        answer = self.call(action, payload)
        assert answer[0] == 3, answer
        return answer[2]

    def close(self) -> None:
        self.ws.close()

    def __enter__(self) -> Wire:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
