"""What the portal records of the engine's credit models, beside the engine (as
`charging.store` and `telemetry.store`): model versions (each loaded once per process
and checked against its hash, registered, activated), the synthetic model, the
stability of a version's scores, and an application's score with its reason codes.

Plain functions taking a session; they flush, never commit. The heavy parts of the
engine (pandas, scikit-learn) are imported on first use.
"""

from __future__ import annotations

import math
import threading
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.models import (
    ApplicationStatus,
    CreditApplication,
    CreditDecision,
    CreditScore,
    ModelVersion,
    Outcome,
)
from portal.services import N_, DomainError, audit
from portal.services.credit.applications import check_scorable
from portal.services.credit.features import TARGET, application_features
from portal.services.credit.models import get_active_model
from portal.services.credit.scoring import current_cutoffs, cutoff_values, policy_result

if TYPE_CHECKING:
    from scoring import SavedModel

_cache_lock = threading.Lock()


_cache: dict[tuple[str, str], SavedModel] = {}


def load_version(version: ModelVersion) -> SavedModel:
    """The saved model of a version (loaded once per process), refused before it is
    unpickled if its file is not the one registered (`model_sha256`)."""
    from scoring import load_model
    from scoring.errors import ArtifactError, UnregisteredModel

    key = (version.path, version.model_sha256)
    with _cache_lock:
        saved = _cache.get(key)
        if saved is None:
            try:
                saved = load_model(version.path, expected_sha256=version.model_sha256)
            except UnregisteredModel:
                raise DomainError(N_("The model file changed since it was registered.")) from None
            except ArtifactError as error:  # e.g. saved by an older engine: retrain
                message = N_(
                    "The model %(name)s cannot be loaded (%(error)s); retrain or activate another."
                )
                raise DomainError(message, name=version.name, error=str(error)) from None
            _cache[key] = saved
        return saved


def register_model(
    session: Session,
    directory: str | Path,
    *,
    name: str | None = None,
    activate_if_none: bool = True,
    actor_id: int | None = None,
) -> ModelVersion:
    """Register a model directory written by ``scoring`` (its manifest is checked by
    loading it). Activates it when no model is active and `activate_if_none`."""
    from scoring import ArtifactError, load_model

    path = Path(directory).resolve()
    try:
        saved = load_model(path)
    except ArtifactError as exc:
        raise DomainError(N_("Not a model directory: %(error)s"), error=str(exc)) from None
    manifest = saved.manifest
    name = name or path.name
    existing = session.scalar(select(ModelVersion).where(ModelVersion.name == name))
    if existing is not None:
        return existing
    version = ModelVersion(
        name=name,
        kind=saved.primary,
        path=str(path),
        metrics=manifest.get("metrics", {}),
        data_fingerprint=manifest["training_data"]["sha256"],
        training_rows=int(manifest["training_data"]["rows"]),
        features=list(saved.model.features),
        code_version=str(manifest.get("code_version", ""))[:60],
        model_sha256=manifest["model_sha256"],
        synthetic=bool(manifest.get("synthetic")),
    )
    session.add(version)
    session.flush()
    audit.record(session, actor_id, "credit.model_registered", version, path=str(path))
    if activate_if_none and get_active_model(session) is None:
        activate_model(session, version.id, actor_id=actor_id, ip=None)
    return version


def activate_model(
    session: Session, version_id: int, *, actor_id: int | None, ip: str | None
) -> ModelVersion:
    version = session.get(ModelVersion, version_id)
    if version is None:
        raise DomainError(N_("That model version does not exist."))
    load_version(version)  # refuse a model that does not load
    previous = get_active_model(session)
    if previous is not None and previous.id == version.id:
        return version
    if previous is not None:
        previous.active = False
        session.flush()  # the partial unique index allows one active row
    version.active = True
    version.activated_at = datetime.now(UTC)
    session.flush()
    audit.record(
        session,
        actor_id,
        "credit.model_activated",
        version,
        ip=ip,
        previous=previous.name if previous else None,
    )
    return version


def train_synthetic_model(
    directory: str | Path,
    *,
    rows: int = 5000,
    seed: int = 7,
    kinds: tuple[str, ...] = ("scorecard", "boosting"),
    folds: int = 5,
) -> dict[str, Any]:
    """Train on ``scoring.synthetic.generate_drivers`` (SYNTHETIC data) and save."""
    from scoring import ModelConfig, train_and_save
    from scoring.synthetic import (
        DRIVER_LABELS,
        DRIVER_REASON_TEMPLATES,
        DRIVER_RISK_DIRECTION,
        generate_drivers,
    )

    df = generate_drivers(rows, seed=seed)
    config = ModelConfig(
        risk_direction=DRIVER_RISK_DIRECTION,
        labels=DRIVER_LABELS,
        reason_templates=DRIVER_REASON_TEMPLATES,
    )
    return train_and_save(
        df,
        TARGET,
        directory,
        synthetic=True,
        models=kinds,  # type: ignore[arg-type]
        seed=seed,
        folds=folds,
        ignore=["synthetic", "driver_id"],
        config=config,
    )


def stability_report(session: Session, version: ModelVersion, limit: int = 1000) -> dict[str, Any]:
    """PSI of the score and of each characteristic: the model's training data against
    the features of the most recent applications scored (by any model)."""
    import pandas as pd

    rows = list(
        session.scalars(select(CreditScore.features).order_by(CreditScore.id.desc()).limit(limit))
    )
    if not rows:
        return {"rows": 0}
    saved = load_version(version)
    model = saved.model
    frame = pd.DataFrame(rows)
    for column in model.plan.features:
        if column not in frame.columns:
            frame[column] = math.nan
    from scoring import feature_frame

    return model.stability(feature_frame(frame.astype("float64"), model.plan))


def _reason_texts(frame_row: Any, features: dict[str, float], top: int) -> list[dict[str, Any]]:
    """The model's reason codes; a model trained without Spanish texts (e.g. by the
    CLI on exported outcomes) gets the driver templates with the applicant's value."""
    from scoring.synthetic import DRIVER_LABELS, DRIVER_REASON_TEMPLATES

    reasons = []
    for r in range(1, top + 1):
        feature = frame_row[f"reason_{r}"]
        if feature is None or feature != feature:
            continue
        text = str(frame_row[f"reason_{r}_text"])
        if feature in DRIVER_REASON_TEMPLATES and text.startswith(feature):
            value = features.get(feature)
            shown = "—" if value is None or value != value else f"{value:,.6g}"
            text = DRIVER_REASON_TEMPLATES[feature] % {
                "bin": shown,
                "label": DRIVER_LABELS[feature],
            }
        reasons.append(
            {"feature": feature, "text": text, "points": int(frame_row[f"reason_{r}_points"])}
        )
    return reasons


def score_application(
    session: Session,
    application_id: int,
    model: ModelVersion | None = None,
    *,
    today: date,
) -> CreditScore:
    """Score an application with `model` (the active one by default): features, PD,
    score, band, reason codes and the policy result. An application whose policy
    result is refer goes to manual review; the others wait for a person's decision."""
    import pandas as pd

    from scoring import score_applications

    application = session.get(CreditApplication, application_id)
    if application is None:
        raise DomainError(N_("That application does not exist."))
    check_scorable(application)
    version = model or get_active_model(session)
    if version is None:
        raise DomainError(N_("No credit model is active; an administrator must activate one."))
    saved = load_version(version)
    features = application_features(session, application, today)
    frame = pd.DataFrame([features])
    result = score_applications(saved, frame, top_reasons=3).iloc[0]
    score = int(result["score"])
    approve_at, decline_below = cutoff_values(session)
    cutoffs = current_cutoffs(session)
    outcome = policy_result(score, approve_at, decline_below)
    credit_score = CreditScore(
        application_id=application.id,
        model_version_id=version.id,
        pd=Decimal(str(round(float(result["pd"]), 5))),
        score=score,
        band=str(result["band"]),
        reason_codes=_reason_texts(result, features, 3),
        features={k: (None if v != v else v) for k, v in features.items()},
        policy_result=outcome,
        cutoffs_id=cutoffs.id if cutoffs else None,
        application_revision=application.revision,
        synthetic=version.synthetic,
    )
    session.add(credit_score)
    session.flush()
    application.scoring_error = None
    if outcome == Outcome.REFER:
        application.status = ApplicationStatus.REFERRED
        session.add(
            CreditDecision(
                application_id=application.id,
                score_id=credit_score.id,
                outcome=Outcome.REFER,
                policy_result=outcome.value,
                automatic=True,
            )
        )
    else:
        application.status = ApplicationStatus.SCORED
    session.flush()
    return credit_score
