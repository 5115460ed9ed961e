import pytest

from portal.app import create_app
from portal.config import (
    DEV_CHARGER_SECRET_KEY,
    DEV_SECRET_KEY,
    ConfigError,
    check_production,
    load_config,
)


def test_production_refuses_the_default_secret_key():
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        check_production({"ENV": "production", "SECRET_KEY": DEV_SECRET_KEY, "DEMO_MODE": False})


def test_production_refuses_demo_mode():
    with pytest.raises(ConfigError, match="LAFA_DEMO"):
        check_production({"ENV": "production", "SECRET_KEY": "x" * 40, "DEMO_MODE": True})


def test_production_refuses_the_default_charger_key():
    config = {"ENV": "production", "SECRET_KEY": "x" * 40, "DEMO_MODE": False}
    with pytest.raises(ConfigError, match="CHARGER_SECRET_KEY"):
        check_production(config | {"CHARGER_SECRET_KEY": DEV_CHARGER_SECRET_KEY})
    with pytest.raises(ConfigError, match="CHARGER_SECRET_KEY"):
        check_production(config | {"CHARGER_SECRET_KEY": "short"})
    check_production(config | {"CHARGER_SECRET_KEY": "k" * 32})


def test_create_app_refuses_to_start_in_production_with_defaults(monkeypatch):
    monkeypatch.setenv("LAFA_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigError):
        create_app({"SKIP_DB_CONFIGURE": True})


def test_production_cookies_are_secure(monkeypatch):
    monkeypatch.setenv("LAFA_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "s" * 48)
    monkeypatch.setenv("CHARGER_SECRET_KEY", "c" * 48)
    config = load_config()
    check_production(config)
    assert config["SESSION_COOKIE_SECURE"]
    assert config["REMEMBER_COOKIE_SECURE"]
    assert config["SESSION_COOKIE_HTTPONLY"]
    assert config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert not config["DEMO_MODE"]


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "sqlite:////tmp/x.sqlite3")
    monkeypatch.setenv("REDIS_URL", "")
    config = load_config()
    assert config["DATABASE_URL"] == "sqlite:////tmp/x.sqlite3"
    assert config["REDIS_URL"] == ""
    assert config["BABEL_DEFAULT_LOCALE"] == "es_MX"


def test_falls_back_to_sqlite_when_postgresql_does_not_answer(monkeypatch, tmp_path):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("LAFA_INSTANCE", str(tmp_path))
    monkeypatch.setattr("portal.config.port_open", lambda host, port, timeout=0.3: False)
    config = load_config()
    assert config["DATABASE_URL"] == f"sqlite:///{tmp_path / 'lafa.sqlite3'}"
    assert config["REDIS_URL"] == ""
