"""The web layer's shape: a feature package never imports another feature's, and
nothing outside the web layer imports a feature package (jobs render with the shared
modules: portal.web.labels, portal.web.statements)."""

import ast
import re

import pytest

from portal import web
from portal.config import ROOT

FEATURES = set(web.FEATURES)


def _imports(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


def _feature_of(module):
    parts = module.split(".")
    if parts[:2] == ["portal", "web"] and len(parts) > 2 and parts[2] in FEATURES:
        return parts[2]
    return None


@pytest.mark.parametrize("feature", sorted(FEATURES))
def test_a_feature_imports_no_other_feature(feature):
    for path in (ROOT / "portal" / "web" / feature).rglob("*.py"):
        others = {_feature_of(m) for m in _imports(path)} - {None, feature}
        assert not others, f"{path.relative_to(ROOT)} imports {sorted(others)}"


def test_nothing_outside_the_web_layer_imports_a_feature():
    for top in ("portal", "workers", "telemetry", "charging", "scoring"):
        for path in (ROOT / top).rglob("*.py"):
            if path.is_relative_to(ROOT / "portal" / "web"):
                continue
            features = {_feature_of(m) for m in _imports(path)} - {None}
            assert not features, f"{path.relative_to(ROOT)} imports {sorted(features)}"


def test_every_feature_has_its_blueprints_and_views():
    for feature in FEATURES:
        package = ROOT / "portal" / "web" / feature
        assert (package / "__init__.py").exists()
        assert (package / "views.py").exists()


def test_every_endpoint_a_template_names_exists(app):
    """A template's `url_for('feature.audience.view')` names a registered endpoint (a
    renamed view would otherwise be a 500 on the page that links to it)."""
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    named = re.compile(r"""url_for\(\s*['"]([\w.]+)['"]""")
    for path in (ROOT / "templates").rglob("*.html"):
        for endpoint in named.findall(path.read_text()):
            assert endpoint in endpoints, f"{path.relative_to(ROOT)} names {endpoint}"
