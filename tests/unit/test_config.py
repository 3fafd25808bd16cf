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


def test_a_setting_moved_out_of_the_gate_names_its_new_section(tmp_path: Path) -> None:
    """It refuses a drift or label-quality threshold under gate, naming where it now lives."""
    path = tmp_path / "leadloop.yaml"
    path.write_text("gate:\n  psi_severe: 0.3\n")
    with pytest.raises(ConfigError, match=r"'psi_severe' moved to the 'drift' section"):
        load_settings(path)
    settings = load_settings(environ={"LEADLOOP_LABEL_QUALITY__NULL_DRAWS": "80"})
    assert settings.label_quality.null_draws == 80


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


@pytest.mark.parametrize("secret", ["#Zq9!secret", "null", "12345", "~", "true", "[a]", " padded "])
def test_secrets_from_environment_are_taken_byte_for_byte(tmp_path: Path, secret: str) -> None:
    """It keeps an API key or webhook secret from the environment exactly as written."""
    env = {"LEADLOOP_SERVE__API_KEY": secret, "LEADLOOP_SERVE__WEBHOOK_SECRET": secret}
    settings = load_settings(base_dir=tmp_path, environ=env)
    assert settings.serve.api_key is not None
    assert settings.serve.api_key.get_secret_value() == secret
    assert settings.serve.webhook_secret is not None
    assert settings.serve.webhook_secret.get_secret_value() == secret


def test_string_settings_from_environment_are_raw(tmp_path: Path) -> None:
    """It takes every string setting from the environment as a string, never as YAML."""
    env = {"LEADLOOP_TRACKING__MODEL_NAME": "null", "LEADLOOP_LEADS__LABEL_COLUMN": "#won"}
    settings = load_settings(base_dir=tmp_path, environ=env)
    assert settings.tracking.model_name == "null"
    assert settings.leads.label_column == "#won"


def test_typed_settings_from_environment(tmp_path: Path) -> None:
    """It converts numbers, booleans and lists from the environment to the setting's type."""
    env = {
        "LEADLOOP_SERVE__PORT": "9000",
        "LEADLOOP_LABELS__USE_YOUNG_DECIDED": "true",
        "LEADLOOP_OUTCOMES__WON_VALUES": "[Closed Won, won]",
        "LEADLOOP_LEADS__LABEL_COLUMN": "",
    }
    settings = load_settings(base_dir=tmp_path, environ=env)
    assert settings.serve.port == 9000
    assert settings.labels.use_young_decided is True
    assert settings.outcomes.won_values == ["Closed Won", "won"]
    assert settings.leads.label_column is None


def test_bad_environment_value_names_the_variable(tmp_path: Path) -> None:
    """It names the environment variable, not the file, when an override has the wrong type."""
    (tmp_path / "leadloop.yaml").write_text("labels:\n  maturity_days: 30\n")
    env = {"LEADLOOP_SERVE__PORT": "eighty"}
    with pytest.raises(
        ConfigError, match=r"^environment variable LEADLOOP_SERVE__PORT \(key .serve\.port.\): "
    ) as info:
        load_settings(base_dir=tmp_path, environ=env)
    assert "leadloop.yaml" not in str(info.value)


def test_duplicate_key_is_refused(tmp_path: Path) -> None:
    """It refuses a section given twice instead of silently keeping the last one."""
    path = tmp_path / "leadloop.yaml"
    path.write_text("split:\n  holdout_fraction: 1.5\nsplit:\n  holdout_fraction: 0.2\n")
    with pytest.raises(ConfigError, match=r"line 3 .*key 'split' is given twice"):
        load_settings(path)


def test_non_utf8_file_is_refused(tmp_path: Path) -> None:
    """It refuses a Latin-1 leadloop.yaml with one line instead of an internal error."""
    path = tmp_path / "leadloop.yaml"
    path.write_bytes("tracking:\n  experiment: café\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_settings(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("labels:\n  cutoff: 2300-01-01\n", "labels.cutoff.*out of range"),
        ("labels:\n  cutoff: '9999-12-31T23:59:59Z'\n", "labels.cutoff.*out of range"),
        ("labels:\n  maturity_days: 1000000000\n", "labels.maturity_days.*3650"),
        ("synthetic:\n  n_leads: 1000000000000\n", "synthetic.n_leads"),
        ("tracking:\n  uri: bogus://x\n", "tracking.uri.*not an MLflow store"),
        ("tracking:\n  uri: 'bogus:x'\n", "tracking.uri.*not an MLflow store"),
        ("leads:\n  decimal: ';'\n", "leads.decimal"),
    ],
)
def test_out_of_range_settings_are_refused(tmp_path: Path, text: str, message: str) -> None:
    """It refuses dates and sizes nothing could hold, and stores MLflow cannot use, in one line
    naming the key."""
    path = tmp_path / "leadloop.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as info:
        load_settings(path)
    assert len(str(info.value).splitlines()) == 1


def test_store_uris_and_sheet_names(tmp_path: Path) -> None:
    """It takes every store MLflow supports, a plain directory included, and a sheet named by
    a number as that sheet's name."""
    for uri in ("sqlite:///a.db", "postgresql+psycopg://u@h/d", "https://mlflow", "mlruns"):
        assert load_settings(environ={"LEADLOOP_TRACKING__URI": uri}, base_dir=tmp_path)
    path = tmp_path / "leadloop.yaml"
    path.write_text("leads:\n  sheet: 2024\n")
    assert load_settings(path).leads.sheet == "2024"


def test_the_tracking_password_never_reaches_mlflow_params(tmp_path: Path) -> None:
    """It replaces the password of the tracking and lock URIs in the params a run logs."""
    from leadloop.errors import redact
    from leadloop.pipeline.record import params

    settings = load_settings(
        environ={
            "LEADLOOP_TRACKING__URI": "postgresql+psycopg://ops:hunter2@db:5432/mlflow",
            "LEADLOOP_TRACKING__LOCK_URL": "postgresql://ops:hunter2@db/mlflow",
        },
        base_dir=tmp_path,
    )
    logged = params(settings)
    assert logged["tracking.uri"] == "postgresql+psycopg://ops:***@db:5432/mlflow"
    assert not any("hunter2" in str(v) for v in logged.values())
    assert redact("a https://u:p@w@host/x b") == "a https://u:***@host/x b"
