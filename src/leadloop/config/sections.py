"""The settings sections of the loop: inputs, labels, split, model, evaluation, gate, drift,
label quality, tracking and the synthetic data set."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from leadloop.config.base import Section

# The decimal mark of numbers in text files: "auto" reads decimal commas (1,5) as numbers in
# files not delimited by commas; "," and "." decide for every file of that input.
Decimal = Literal["auto", ".", ","]


def _sheet_name(value: Any) -> Any:
    """A sheet named by a number in YAML (``sheet: 2024``) is the sheet of that name."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class LeadsConfig(Section):
    """Where the leads are and what their columns mean."""

    path: Path = Path("data/leads.csv")
    id_column: str | None = "lead_id"
    created_at_column: str | None = "created_at"
    label_column: str | None = None
    exclude_columns: list[str] = Field(default_factory=list)
    feature_types: dict[str, Literal["numeric", "categorical", "boolean", "datetime"]] = Field(
        default_factory=dict
    )
    date_formats: dict[str, str] = Field(default_factory=dict)
    sheet: str | None = None  # an Excel workbook's sheet (default: the first, with a warning)
    decimal: Decimal = "auto"
    # Wider tables are refused at once: the leak guard, drift and the report are per column,
    # and past this a run takes many minutes (README, "Wide tables").
    max_columns: int = Field(default=1000, ge=1, le=100_000)

    @field_validator("date_formats")
    @classmethod
    def _date_formats(cls, value: dict[str, str]) -> dict[str, str]:
        from leadloop.data.timestamps import check_format  # pandas: only when used

        return {column: check_format(fmt) for column, fmt in value.items()}

    @field_validator("sheet", mode="before")
    @classmethod
    def _sheet(cls, value: Any) -> Any:
        return _sheet_name(value)


class OutcomesConfig(Section):
    """Where the CRM outcome events are, their columns, and how their values map to won/lost."""

    source: Literal["file", "store", "none"] = "file"
    path: Path = Path("data/outcomes.csv")
    id_column: str = "lead_id"
    outcome_column: str = "outcome"
    occurred_at_column: str = "occurred_at"
    event_id_column: str | None = "event_id"
    amount_column: str | None = "amount"
    won_values: list[str] = Field(default_factory=lambda: ["won", "Closed Won"])
    lost_values: list[str] = Field(default_factory=lambda: ["lost", "Closed Lost"])
    # Activity values (a call, a meeting): the lead was worked. With them, a lead past the
    # maturity window that was never worked is censored, not lost (data/labels.py).
    worked_values: list[str] = Field(default_factory=list)
    join: Literal["id", "row_order"] = "id"
    date_formats: dict[str, str] = Field(default_factory=dict)
    sheet: str | None = None
    decimal: Decimal = "auto"

    @field_validator("sheet", mode="before")
    @classmethod
    def _sheet(cls, value: Any) -> Any:
        return _sheet_name(value)

    @field_validator("date_formats")
    @classmethod
    def _date_formats(cls, value: dict[str, str]) -> dict[str, str]:
        from leadloop.data.timestamps import check_format  # pandas: only when used

        return {column: check_format(fmt) for column, fmt in value.items()}

    @model_validator(mode="after")
    def _mapping_is_disjoint(self) -> OutcomesConfig:
        both = set(self.won_values) & set(self.lost_values)
        if both:
            raise ValueError(f"values {sorted(both)} are mapped to both won and lost")
        taken = set(self.worked_values) & (set(self.won_values) | set(self.lost_values))
        if taken:
            raise ValueError(f"values {sorted(taken)} are mapped to worked and to won or lost")
        if not self.won_values or not self.lost_values:
            raise ValueError("won_values and lost_values must each list at least one value")
        return self


MAX_MATURITY_DAYS = 3650  # ten years: a lead undecided that long is no longer a sales question


class LabelsConfig(Section):
    """Point-in-time labelling: the cutoff and what happens to leads with no outcome."""

    cutoff: datetime | None = None
    maturity_days: int = Field(default=90, gt=0, le=MAX_MATURITY_DAYS)
    unmatured: Literal["lost", "exclude"] = "lost"
    use_young_decided: bool = False

    @field_validator("cutoff", mode="before")
    @classmethod
    def _cutoff(cls, value: Any) -> Any:
        """Read like a timestamp column: epoch by magnitude, zones to UTC, no day/month guess."""
        from leadloop.data.timestamps import parse_value  # pandas: only when used

        return None if value is None else parse_value(value, name="labels.cutoff")


class SplitConfig(Section):
    """Out-of-time holdout and the validation and calibration slices of the training data."""

    holdout_fraction: float = Field(default=0.2, gt=0, lt=1)
    validation_fraction: float = Field(default=0.15, gt=0, lt=0.5)
    calibration_fraction: float = Field(default=0.15, gt=0, lt=0.5)
    min_holdout_rows: int = Field(default=50, ge=1, le=10_000_000)


class ModelConfig(Section):
    """LightGBM and calibration settings."""

    num_boost_round: int = Field(default=1000, gt=0, le=100_000)
    early_stopping_rounds: int = Field(default=50, gt=0, le=100_000)
    learning_rate: float = Field(default=0.05, gt=0, le=1)
    num_leaves: int = Field(default=31, ge=2, le=131_072)
    min_data_in_leaf: int = Field(default=40, ge=1, le=10_000_000)
    feature_fraction: float = Field(default=0.9, gt=0, le=1)
    lambda_l2: float = Field(default=1.0, ge=0)
    num_threads: int = Field(default=0, ge=0, le=1024)
    calibration: Literal["isotonic", "sigmoid"] = "isotonic"
    seed: int = 42


class EvaluationConfig(Section):
    """Business settings for metrics: sales capacity is the share of leads sales can work."""

    capacity: float = Field(default=0.1, gt=0, le=1)
    calibration_bins: int = Field(default=10, ge=2, le=1000)
    grade_cutoffs: list[float] = Field(default_factory=lambda: [0.4, 0.2, 0.1])

    @field_validator("grade_cutoffs")
    @classmethod
    def _descending(cls, value: list[float]) -> list[float]:
        if len(value) != 3 or sorted(value, reverse=True) != value or not value[-1] > 0:
            raise ValueError("give three probabilities, highest first, for grades A, B and C")
        return value


class GateConfig(Section):
    """Promotion policy: what the challenger must show before it replaces the champion."""

    confidence: float = Field(default=0.95, gt=0.5, lt=1)
    min_auc_gain: float = Field(default=0.005, ge=0)
    max_recall_drop: float = Field(default=0.01, ge=0)
    max_ece: float = Field(default=0.05, gt=0)
    ece_tolerance: float = Field(default=0.01, ge=0)
    min_holdout_minority: int = Field(default=30, ge=1, le=10_000_000)
    top_features: int = Field(default=5, ge=1, le=10_000)
    block_on_drift: bool = True
    bootstrap_resamples: int = Field(default=200, ge=50, le=100_000)

    @model_validator(mode="before")
    @classmethod
    def _moved(cls, value: Any) -> Any:
        """Name the new home of a setting that moved out of ``gate`` (since 0.2)."""
        if isinstance(value, dict):
            for key, section in MOVED_FROM_GATE.items():
                if key in value:
                    raise ValueError(f"'{key}' moved to the '{section}' section: {section}.{key}")
        return value


class DriftConfig(Section):
    """Drift severity by effect size (newest leads against the champion's training data)."""

    psi_moderate: float = Field(default=0.1, gt=0)
    psi_severe: float = Field(default=0.25, gt=0)
    ks_severe: float = Field(default=0.15, gt=0, le=1)
    js_severe: float = Field(default=0.15, gt=0, le=1)
    p_value_correction: Literal["holm", "bh"] = "holm"


class LabelQualityConfig(Section):
    """The label checks, each judged against its own null (README "Label checks")."""

    false_alarm_rate: float = Field(default=0.003, gt=0, lt=0.5)
    min_history_kappa: float = Field(default=0.81, gt=0, le=1)
    null_draws: int = Field(default=200, ge=50, le=100_000)


MOVED_FROM_GATE = {
    "psi_severe": "drift",
    "ks_severe": "drift",
    "js_severe": "drift",
    "false_alarm_rate": "label_quality",
    "min_history_kappa": "label_quality",
    "null_draws": "label_quality",
}


STORE_SCHEMES = frozenset(
    {"sqlite", "postgresql", "postgres", "mysql", "mssql", "http", "https", "file"}
    | {"databricks", "databricks-uc", "uc"}
)


class TrackingConfig(Section):
    """MLflow store and registry names."""

    uri: str = "sqlite:///.leadloop/mlflow.db"
    artifact_root: Path = Path(".leadloop/artifacts")
    experiment: str = "leadloop"
    model_name: str = "lead-scorer"
    # Lock for moving the champion: derived from ``uri`` (PostgreSQL advisory lock, or a file
    # beside SQLite); for an MLflow server, give the PostgreSQL URL of its backend database.
    lock_url: str | None = None
    lock_timeout: float = Field(default=60.0, gt=0, le=86_400)
    shared: bool = False  # refuse a store that lives and dies with this machine (CI)
    # Where the empty MLflow store that new local SQLite stores are copied from is kept (one
    # per MLflow version; MLflow creating a store's tables itself takes seconds). Unset: the
    # user's cache directory ($XDG_CACHE_HOME/leadloop, else ~/.cache/leadloop).
    store_template_dir: Path | None = None

    @field_validator("uri")
    @classmethod
    def _store_uri(cls, value: str) -> str:
        """A URI MLflow can store runs and models in (a plain path is a file store)."""
        from urllib.parse import urlparse

        scheme = urlparse(value).scheme.split("+", 1)[0].lower()
        if len(scheme) > 1 and scheme not in STORE_SCHEMES:  # "" or "c": a path
            from leadloop.errors import redact

            raise ValueError(
                f"'{redact(value)}' is not an MLflow store: use sqlite:///path/mlflow.db, "
                "postgresql+psycopg://user@host/db, an http(s):// tracking server or a directory"
            )
        return value


class SyntheticConfig(Section):
    """The bundled synthetic data set, generated on first use when the input files are missing."""

    enabled: bool = True
    n_leads: int = Field(default=20_000, ge=100, le=10_000_000)
    months: int = Field(default=18, ge=2, le=600)
    seed: int = 7


class PolicyConfig(Section):
    """The work-allocation policy: sales capacity per scoring batch and the exploration share.

    ``capacity`` is a share of the batch (0 < c <= 1, e.g. 0.1) or a count of leads (an integer,
    e.g. 500); none means no policy: scores carry no priority or propensity.
    """

    capacity: int | float | None = None
    epsilon: float = Field(default=0.05, gt=0, le=1)
    seed: int | None = None

    @field_validator("capacity", mode="before")
    @classmethod
    def _capacity(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("give a share of the batch (0 < c <= 1) or a count of leads")
        return value

    @field_validator("capacity")
    @classmethod
    def _capacity_range(cls, value: int | float | None) -> int | float | None:
        if isinstance(value, int) and value < 1:
            raise ValueError(f"a count of leads must be at least 1, got {value}")
        if isinstance(value, float) and not 0 < value <= 1:
            raise ValueError(f"a share of the batch must be in (0, 1], got {value}")
        return value
