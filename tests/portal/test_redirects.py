"""`safe_next`: only a path on this site, as a browser will read it.

The browser's reading comes from ada-url, an implementation of the WHATWG URL
standard that browsers follow (backslashes, tabs, newlines and leading controls
included), so these tests do not trust our own idea of what a browser does.
"""

import ada_url
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from portal.redirects import safe_next

SITE = "https://portal.lafa.mx"


def browser_origin(location: str) -> str:
    """The origin a browser on SITE goes to when told `Location: location`."""
    url = ada_url.URL(location, base=f"{SITE}/entrar")
    return f"{url.protocol}//{url.host}"


@pytest.mark.parametrize(
    "target",
    [
        "/\\evil.com",
        "/\t/evil.com",
        "/\n/evil.com",
        "/\r/evil.com",
        "//evil.com",
        "///evil.com",
        " //evil.com",
        "\x00//evil.com",
        "\\\\evil.com",
        "/\\/evil.com",
        "https://evil.com/",
        "https:evil.com",
        "javascript:alert(1)",
        "evil.com",
        "",
        None,
    ],
)
def test_what_a_browser_would_send_elsewhere_is_refused(target):
    assert safe_next(target) is None


@pytest.mark.parametrize(
    "target",
    ["/operacion/flota?plate=A", "/conductor/", "/gerencia/indicadores?desde=2026-01-01#kpi"],
)
def test_a_path_on_this_site_passes_unchanged(target):
    assert safe_next(target) == target


@given(st.text(max_size=40))
@example("/\\evil.com")
@example("/\t/evil.com")
@example("/%5Cevil.com")
@example("/.//evil.com")
def test_whatever_passes_stays_on_this_site(target):
    passed = safe_next(target)
    if passed is not None:
        assert browser_origin(passed) == SITE


_segment = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_.~%", min_size=1, max_size=12)


@given(st.lists(_segment, min_size=1, max_size=5), st.text("abc=&0123456789", max_size=20))
def test_every_ordinary_path_passes(segments, query):
    target = "/" + "/".join(segments) + (f"?{query}" if query else "")
    assert safe_next(target) == target
