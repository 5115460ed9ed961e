"""LAFA credit scoring engine: WoE scorecard and gradient boosting, calibrated PDs, bands,
Spanish reason codes, out-of-fold evaluation, stability monitoring and versioned artifacts.

No web framework here: the portal calls these functions.
"""

__version__ = "0.1.0"

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scoring.artifact import SavedModel, data_fingerprint, load_model, save_model
    from scoring.batch import score_applications
    from scoring.binning import FeatureBinning, fit_binning
    from scoring.columns import PROTECTED, ColumnPlan, feature_frame, is_protected, plan_columns
    from scoring.errors import ArtifactError, DataError, ScoringError
    from scoring.evaluation import calibration_table, evaluate, ks_statistic, metrics
    from scoring.model import Bands, CreditModel, ModelConfig, ReasonCode
    from scoring.monitoring import (
        approval_rates_by_group,
        population_stability_index,
        psi_status,
    )
    from scoring.scorecard import Scaling, Scorecard
    from scoring.training import train, train_and_save

# Public names -> defining module, imported on first use so that `python -m scoring` can
# reject bad input before paying for scikit-learn's import.
_EXPORTS = {
    "SavedModel": "scoring.artifact",
    "data_fingerprint": "scoring.artifact",
    "load_model": "scoring.artifact",
    "save_model": "scoring.artifact",
    "score_applications": "scoring.batch",
    "FeatureBinning": "scoring.binning",
    "fit_binning": "scoring.binning",
    "PROTECTED": "scoring.columns",
    "ColumnPlan": "scoring.columns",
    "feature_frame": "scoring.columns",
    "is_protected": "scoring.columns",
    "plan_columns": "scoring.columns",
    "ArtifactError": "scoring.errors",
    "DataError": "scoring.errors",
    "ScoringError": "scoring.errors",
    "calibration_table": "scoring.evaluation",
    "evaluate": "scoring.evaluation",
    "ks_statistic": "scoring.evaluation",
    "metrics": "scoring.evaluation",
    "Bands": "scoring.model",
    "CreditModel": "scoring.model",
    "ModelConfig": "scoring.model",
    "ReasonCode": "scoring.model",
    "approval_rates_by_group": "scoring.monitoring",
    "population_stability_index": "scoring.monitoring",
    "psi_status": "scoring.monitoring",
    "Scaling": "scoring.scorecard",
    "Scorecard": "scoring.scorecard",
    "train": "scoring.training",
    "train_and_save": "scoring.training",
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        from importlib import import_module

        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'scoring' has no attribute {name!r}")


__all__ = [
    "PROTECTED",
    "ArtifactError",
    "Bands",
    "ColumnPlan",
    "CreditModel",
    "DataError",
    "FeatureBinning",
    "ModelConfig",
    "ReasonCode",
    "SavedModel",
    "Scaling",
    "Scorecard",
    "ScoringError",
    "__version__",
    "approval_rates_by_group",
    "calibration_table",
    "data_fingerprint",
    "evaluate",
    "feature_frame",
    "fit_binning",
    "is_protected",
    "ks_statistic",
    "load_model",
    "metrics",
    "plan_columns",
    "population_stability_index",
    "psi_status",
    "save_model",
    "score_applications",
    "train",
    "train_and_save",
]
