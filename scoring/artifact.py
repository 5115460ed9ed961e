"""Saving and loading versioned models: a pickled model plus a JSON manifest.

A model directory holds ``model.joblib`` and ``manifest.json`` (format, code version,
creation time, seed, features, metrics, the SHA-256 fingerprint of the training data and
of the model file). It is written to a temporary directory next to the destination and
renamed into place, so a failure never leaves a half-written model. Loading checks the
manifest and the model file's hash before unpickling; only load models you trust.

Unpickling runs code, so the hash that matters is one the attacker cannot rewrite with
the file: a registered model is loaded with the hash recorded when it was registered
(`expected_sha256`, from the database), not the manifest's, which sits beside the file.
The bytes hashed are the bytes unpickled (read once, so the file cannot change between).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import pandas as pd

from scoring.errors import ArtifactError, UnregisteredModel
from scoring.model import CreditModel

FORMAT = "lafa-scoring-model"
#: 2: boosting became a cross-fitted bag with sequence summaries; a format 1 directory
#: still loads if it holds no boosting model (scorecards did not change).
FORMAT_VERSION = 2
MODEL_FILE = "model.joblib"
MANIFEST_FILE = "manifest.json"


def data_fingerprint(df: pd.DataFrame) -> str:
    """SHA-256 of a data frame's column names and values (row order matters)."""
    h = hashlib.sha256()
    h.update(json.dumps([str(c) for c in df.columns]).encode())
    h.update(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes())
    return h.hexdigest()


def code_version() -> str:
    """``git describe`` of the repository holding this package, else the package version."""
    git = shutil.which("git")
    if git:
        try:
            out = subprocess.run(  # noqa: S603 - fixed argv, no shell, no user input
                [git, "describe", "--always", "--dirty", "--tags"],
                cwd=Path(__file__).resolve().parent,
                capture_output=True,
                text=True,
                timeout=5,
                check=False,
            )
            if out.returncode == 0 and out.stdout.strip():
                return out.stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    from scoring import __version__

    return __version__


@dataclass
class SavedModel:
    """A loaded model directory: the models by kind, the primary one, and the manifest."""

    models: dict[str, CreditModel]
    primary: str
    manifest: dict[str, Any]

    @property
    def model(self) -> CreditModel:
        return self.models[self.primary]


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_model(
    directory: str | os.PathLike[str],
    models: dict[str, CreditModel],
    *,
    primary: str,
    training_fingerprint: str,
    training_rows: int,
    metrics: dict[str, Any] | None = None,
    seed: int = 0,
    synthetic: bool = False,
) -> dict[str, Any]:
    """Write ``models`` to a new ``directory`` atomically and return the manifest."""
    dest = Path(directory)
    if dest.exists():
        raise ArtifactError(f"{dest} already exists; choose a new directory for this version")
    if primary not in models:
        raise ArtifactError(f"primary model {primary!r} is not among {sorted(models)}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        joblib.dump({"models": models, "primary": primary}, tmp / MODEL_FILE, compress=3)
        first = models[primary]
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "code_version": code_version(),
            "seed": seed,
            "synthetic": synthetic,
            "target": first.plan.target,
            "primary": primary,
            "models": sorted(models),
            "inputs": first.plan.features,
            "features_used": {k: m.features for k, m in models.items()},
            "protected_dropped": list(first.plan.protected),
            "ignored": first.plan.ignored,
            "training_data": {"sha256": training_fingerprint, "rows": training_rows},
            "metrics": metrics or {},
            "model_sha256": _sha256_file(tmp / MODEL_FILE),
        }
        (tmp / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
        tmp.rename(dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def load_model(
    directory: str | os.PathLike[str], *, expected_sha256: str | None = None
) -> SavedModel:
    """Load a model directory after verifying its manifest and the model file's hash,
    and first against `expected_sha256` when given (the hash it was registered with)."""
    src = Path(directory)
    manifest_path, model_path = src / MANIFEST_FILE, src / MODEL_FILE
    if not manifest_path.is_file() or not model_path.is_file():
        raise ArtifactError(f"{src} is not a model directory ({MANIFEST_FILE}, {MODEL_FILE})")
    try:
        manifest = json.loads(manifest_path.read_text())
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"{manifest_path} is not valid JSON: {exc}") from exc
    version = manifest.get("format_version")
    if manifest.get("format") != FORMAT or version not in (1, FORMAT_VERSION):
        raise ArtifactError(f"{src} has an unknown model format")
    if version == 1 and "boosting" in manifest.get("models", []):
        raise ArtifactError(f"{src} holds a boosting model of format 1; retrain it")
    content = model_path.read_bytes()
    sha256 = hashlib.sha256(content).hexdigest()
    if expected_sha256 is not None and sha256 != expected_sha256:
        raise UnregisteredModel(f"{model_path} is not the model file that was registered")
    if sha256 != manifest.get("model_sha256"):
        raise ArtifactError(f"{model_path} does not match the hash in its manifest")
    payload = joblib.load(io.BytesIO(content))
    models: dict[str, CreditModel] = payload["models"]
    primary: str = payload["primary"]
    if sorted(models) != manifest["models"] or primary != manifest["primary"]:
        raise ArtifactError(f"{src}: the model file and the manifest disagree")
    for kind, model in models.items():
        if model.features != manifest["features_used"][kind]:
            raise ArtifactError(f"{src}: features of the {kind} model differ from the manifest")
    return SavedModel(models, primary, manifest)
