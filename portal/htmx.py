"""One URL, two answers: the whole page, or just the block htmx asked for.

An htmx request is exactly `HX-Request: true`; boosted requests and history
restores get the whole page. Every answer that branches on it says so in `Vary`.
"""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, make_response, render_template
from flask_htmx import HTMX

htmx = HTMX()


def wants_fragment() -> bool:
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def render_block(template_name: str, block: str, **context: Any) -> str:
    env = current_app.jinja_env
    template = env.get_template(template_name)
    current_app.update_template_context(context)
    ctx = template.new_context(context)
    return "".join(template.blocks[block](ctx))


def render(
    template_name: str, block: str | None = None, status: int = 200, **context: Any
) -> Response:
    """Render the page, or only `block` of it for an htmx request, with `Vary: HX-Request`."""
    if block and wants_fragment():
        body = render_block(template_name, block, **context)
    else:
        body = render_template(template_name, **context)
    response = make_response(body, status)
    response.vary.add("HX-Request")
    return response


def trigger(response: Response, event: str) -> Response:
    """Add a client event to `HX-Trigger`, keeping any that are already there."""
    existing = response.headers.get("HX-Trigger")
    response.headers["HX-Trigger"] = f"{existing}, {event}" if existing else event
    return response
