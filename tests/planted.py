"""A credit model directory swapped by an attacker who can write it: a model file that
runs code when it is unpickled, and a manifest rewritten to match it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import joblib


class Planted:
    """Unpickling it creates the file `path` (harmless proof that code ran)."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (self.path, "w"))


def swap_in_a_planted_model(directory: Path, marker: Path) -> None:
    model = directory / "model.joblib"
    joblib.dump({"models": Planted(marker), "primary": "scorecard"}, model)
    manifest = json.loads((directory / "manifest.json").read_text())
    manifest["model_sha256"] = hashlib.sha256(model.read_bytes()).hexdigest()
    (directory / "manifest.json").write_text(json.dumps(manifest))
