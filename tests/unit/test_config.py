"""Settings: defaults, the YAML file, environment overrides and one-line errors."""

from pathlib import Path

import pytest

from leadloop.config import Settings, load_settings
from leadloop.errors import ConfigError

TEMPLATE = Path(__file__).parents[2] / "src" / "leadloop" / "leadloop.yaml"


def test_defaults_without_file(tmp_path: Path) -> None:
    """It loads defaults when there is no leadloop.yaml, with paths relative to the directory."""
    settings = load_settings(base_dir=tmp_path)
    assert settings.base_dir == tmp_path.resolve()
    assert settings.resolve(settings.leads.path) == tmp_path.resolve() / "data" / "leads.csv"
    assert settings.tracking_uri() == f"sqlite:///{tmp_path.resolve()}/.leadloop/mlflow.db"


def test_template_matches_defaults(tmp_path: Path) -> None:
    """It ships a commented template whose values are exactly the defaults."""
    path = tmp_path / "leadloop.yaml"
    path.write_text(TEMPLATE.read_text())
    from_file = load_settings(path).model_dump(exclude={"base_dir"})
    assert from_file == Settings().model_dump(exclude={"base_dir"})


def test_unknown_key_is_named(tmp_path: Path) -> None:
    """It rejects a misspelt key with a message naming the key."""
    path = tmp_path / "leadloop.yaml"
    path.write_text("labels:\n  maturity_dayz: 30\n")
    with pytest.raises(ConfigError, match=r"unknown key 'labels\.maturity_dayz'"):
        load_settings(path)


def test_wrong_type_is_named(tmp_path: Path) -> None:
    """It rejects a value of the wrong type naming the key."""
    path = tmp_path / "leadloop.yaml"
    path.write_text("labels:\n  maturity_days: soon\n")
    with pytest.raises(ConfigError, match=r"key 'labels\.maturity_days'"):
        load_settings(path)


def test_overlapping_mapping_is_refused(tmp_path: Path) -> None:
    """It refuses an outcome value mapped to both won and lost."""
    path = tmp_path / "leadloop.yaml"
    path.write_text("outcomes:\n  won_values: [done]\n  lost_values: [done]\n")
    with pytest.raises(ConfigError, match="both won and lost"):
        load_settings(path)


def test_environment_overrides_file(tmp_path: Path) -> None:
    """It lets LEADLOOP_SECTION__KEY override the file."""
    path = tmp_path / "leadloop.yaml"
    path.write_text("labels:\n  maturity_days: 30\n")
    env = {"LEADLOOP_LABELS__MATURITY_DAYS": "45", "LEADLOOP_TRACKING__MODEL_NAME": "x"}
    settings = load_settings(path, environ=env)
    assert settings.labels.maturity_days == 45
    assert settings.tracking.model_name == "x"


def test_invalid_yaml_and_missing_file(tmp_path: Path) -> None:
    """It reports a missing file and broken YAML as configuration errors."""
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("leads: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(bad)
