"""Where a user may be sent back to after logging in (or changing the language).

A `next` value comes from the query string or a form, so an attacker can choose it.
Only a path on this site passes, judged the way a browser will read it: browsers
(the WHATWG URL standard) drop tabs and newlines anywhere in a URL, strip leading
control characters and spaces, and read a backslash as a slash, so `/\\evil.com`
and `/\\t/evil.com` both become `//evil.com`, another site. Rather than imitate that
normalisation, any character it would touch is refused: what passes means the same
thing to every parser.
"""

from __future__ import annotations

from urllib.parse import urlsplit

MAX_LENGTH = 2000


def safe_next(target: str | None) -> str | None:
    """`target` if it is a path on this site (`/...`, not `//...`), else None."""
    if not target or len(target) > MAX_LENGTH:
        return None
    if not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ch <= " " or ch == "\x7f" for ch in target):
        return None  # backslashes, controls, spaces: what browsers rewrite or strip
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target
