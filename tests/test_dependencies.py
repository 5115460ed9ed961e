"""The dependency lock and its audit (`make lock`, `make audit`)."""

import importlib.util
import json
import re
import socket
import tomllib
from importlib.machinery import SourceFileLoader

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from portal.config import ROOT


def _audit():
    loader = SourceFileLoader("audit", str(ROOT / "bin" / "audit"))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader("audit", loader))
    loader.exec_module(module)
    return module


def _locked() -> dict[str, tuple[Version, int]]:
    """Each locked package: its version and how many hashes it carries."""
    text = (ROOT / "requirements.lock").read_text()
    pins = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        match = re.match(r"([A-Za-z0-9_.\-]+)==(\S+)", block)
        if match:
            pins[canonicalize_name(match[1])] = (Version(match[2]), block.count("--hash=sha256:"))
    return pins


def _required() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [
        Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]
    ]


def test_every_requirement_is_locked_with_hashes_within_its_range():
    """Fails after a dependency is added to pyproject.toml without `make lock`."""
    locked = _locked()
    for requirement in _required():
        version, hashes = locked.get(canonicalize_name(requirement.name), (None, 0))
        assert version is not None, f"{requirement.name} is not in requirements.lock: make lock"
        assert version in requirement.specifier, f"{requirement} but {version} is locked"
        assert hashes > 0


@pytest.mark.parametrize(
    ("name", "floor"), [("gunicorn", "23"), ("weasyprint", "70"), ("cryptography", "44.0.1")]
)
def test_floors_above_the_known_advisories(name, floor):
    requirement = next(r for r in _required() if r.name == name)
    assert Version(floor) in requirement.specifier
    assert not any(Version(v) in requirement.specifier for v in ("22.0", "62.3", "44.0.0"))
    assert _locked()[name][0] >= Version(floor)


def _report(*dependencies):
    return json.dumps({"dependencies": list(dependencies), "fixes": []})


def test_a_known_vulnerability_fails_the_audit():
    status, message = _audit().verdict(
        _report(
            {"name": "flask", "version": "3.1.3", "vulns": []},
            {
                "name": "gunicorn",
                "version": "22.0.0",
                "vulns": [{"id": "CVE-2024-6827", "fix_versions": ["23.0.0"]}],
            },
        ),
        "",
    )
    assert status == 1
    assert "gunicorn 22.0.0: CVE-2024-6827 (fixed in 23.0.0)" in message


def test_a_clean_audit_passes():
    status, message = _audit().verdict(
        _report({"name": "flask", "version": "3.1.3", "vulns": []}), ""
    )
    assert status == 0
    assert "1 locked packages audited: no known vulnerabilities" in message


@pytest.mark.parametrize(
    ("stdout", "stderr"),
    [
        ("", "requests.exceptions.ConnectionError: Max retries exceeded (NameResolutionError)"),
        (
            _report(
                {
                    "name": "flask",
                    "skip_reason": "Dependency not found on PyPI and could not be audited",
                }
            ),
            "",
        ),
    ],
    ids=["no network", "an index without PyPI's advisory API"],
)
def test_an_unreachable_advisory_database_is_said_and_passes(stdout, stderr):
    status, message = _audit().verdict(stdout, stderr)
    assert status == 0
    assert message.startswith("audit skipped: the advisory database could not be reached")


def test_any_other_failure_of_pip_audit_fails():
    status, message = _audit().verdict("", "pip_audit: error: requirements.lock: hash mismatch")
    assert status == 2
    assert "hash mismatch" in message


def test_an_advisory_database_that_does_not_answer_is_noticed_at_once():
    """One probe before pip-audit's ~150 requests, which would each wait out a time-out."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    reason = _audit().unreachable(f"http://127.0.0.1:{port}/pypi/pip/json", timeout=2)
    assert reason is not None
    assert str(port) in reason
