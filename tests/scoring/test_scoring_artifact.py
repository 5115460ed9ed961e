import json

import numpy as np
import pytest

from scoring import ArtifactError, data_fingerprint, load_model, save_model, train
from scoring.batch import score_applications
from scoring.model import ModelConfig
from scoring.synthetic import DRIVER_RISK_DIRECTION, TARGET, generate_drivers
from tests.planted import swap_in_a_planted_model


@pytest.fixture(scope="module")
def drivers():
    return generate_drivers(800, seed=4)


@pytest.fixture(scope="module")
def trained(drivers):
    return train(
        drivers,
        TARGET,
        folds=2,
        seed=3,
        config=ModelConfig(
            risk_direction=DRIVER_RISK_DIRECTION,
            hgb_params={"learning_rate": 0.2, "max_iter": 60},
            calibration_folds=2,
        ),
    )


def _save(path, drivers, trained):
    models, primary, report = trained
    return save_model(
        path,
        models,
        primary=primary,
        training_fingerprint=data_fingerprint(drivers),
        training_rows=len(drivers),
        metrics=report,
        seed=3,
        synthetic=True,
    )


def test_save_and_load_round_trip_scores_identically(tmp_path, drivers, trained):
    manifest = _save(tmp_path / "v1", drivers, trained)
    loaded = load_model(tmp_path / "v1")
    models, primary, _ = trained
    assert loaded.primary == primary
    apps = drivers.drop(columns=[TARGET]).iloc[:100]
    for kind, model in models.items():
        before = score_applications(model, apps)
        after = score_applications(loaded.models[kind], apps)
        np.testing.assert_array_equal(before["pd"], after["pd"])
        assert list(before["reason_1"]) == list(after["reason_1"])
    on_disk = json.loads((tmp_path / "v1" / "manifest.json").read_text())
    assert on_disk == manifest
    assert on_disk["training_data"]["sha256"] == data_fingerprint(drivers)
    assert on_disk["seed"] == 3
    assert on_disk["synthetic"] is True
    assert "sexo" in on_disk["protected_dropped"]
    assert "sexo" not in on_disk["inputs"]
    assert on_disk["code_version"]
    assert on_disk["created_at"].endswith("+00:00")


def test_fingerprint_changes_with_the_data(drivers):
    changed = drivers.copy()
    changed.loc[0, "rating"] = 1.0
    assert data_fingerprint(changed) != data_fingerprint(drivers)


def test_a_tampered_model_file_is_refused(tmp_path, drivers, trained):
    _save(tmp_path / "v1", drivers, trained)
    with (tmp_path / "v1" / "model.joblib").open("ab") as f:
        f.write(b"tampered")
    with pytest.raises(ArtifactError, match="does not match the hash"):
        load_model(tmp_path / "v1")


def test_an_existing_directory_is_never_overwritten(tmp_path, drivers, trained):
    (tmp_path / "v1").mkdir()
    with pytest.raises(ArtifactError, match="already exists"):
        _save(tmp_path / "v1", drivers, trained)


def test_a_failed_save_leaves_nothing_behind(tmp_path, drivers, trained, monkeypatch):
    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("scoring.artifact.joblib.dump", boom)
    with pytest.raises(OSError, match="disk full"):
        _save(tmp_path / "v1", drivers, trained)
    assert list(tmp_path.iterdir()) == []


def test_format_1_loads_a_scorecard_but_not_a_boosting_model(tmp_path, drivers, trained):
    models, primary, report = trained
    for name, kept in (("both", models), ("scorecard", {"scorecard": models["scorecard"]})):
        save_model(
            tmp_path / name,
            kept,
            primary=primary if primary in kept else "scorecard",
            training_fingerprint=data_fingerprint(drivers),
            training_rows=len(drivers),
            metrics=report,
            seed=3,
        )
        path = tmp_path / name / "manifest.json"
        path.write_text(json.dumps(json.loads(path.read_text()) | {"format_version": 1}))
    assert load_model(tmp_path / "scorecard").primary == "scorecard"
    with pytest.raises(ArtifactError, match="boosting model of format 1"):
        load_model(tmp_path / "both")


def test_a_swapped_model_is_refused_before_it_is_unpickled(tmp_path, drivers, trained):
    registered = _save(tmp_path / "v1", drivers, trained)["model_sha256"]
    marker = tmp_path / "ran"
    swap_in_a_planted_model(tmp_path / "v1", marker)
    with pytest.raises(ArtifactError, match="not the model file that was registered"):
        load_model(tmp_path / "v1", expected_sha256=registered)
    assert not marker.exists()
