"""Typed settings: one pydantic model tree, loaded once at the edge and passed down.

Every section has defaults, so ``leadloop run`` works with no file at all on the bundled synthetic
data. A ``leadloop.yaml`` overrides any of them; environment variables named
``LEADLOOP_<SECTION>__<KEY>`` (e.g. ``LEADLOOP_TRACKING__URI``) override the file.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from leadloop.data.timestamps import check_format, parse_value
from leadloop.errors import ConfigError

# Values that mean "missing" in the files users bring; extend per data set in leadloop.yaml.
DEFAULT_MISSING = (
    "",
    "NA",
    "N/A",
    "n/a",
    "na",
    "null",
    "NULL",
    "Null",
    "None",
    "none",
    "NaN",
    "nan",
    "-",
    "?",
    "#N/A",
)

CONFIG_FILENAME = "leadloop.yaml"
ENV_PREFIX = "LEADLOOP_"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LeadsConfig(_Section):
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

    @field_validator("date_formats")
    @classmethod
    def _date_formats(cls, value: dict[str, str]) -> dict[str, str]:
        return {column: check_format(fmt) for column, fmt in value.items()}


class OutcomesConfig(_Section):
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
    join: Literal["id", "row_order"] = "id"
    date_formats: dict[str, str] = Field(default_factory=dict)

    @field_validator("date_formats")
    @classmethod
    def _date_formats(cls, value: dict[str, str]) -> dict[str, str]:
        return {column: check_format(fmt) for column, fmt in value.items()}

    @model_validator(mode="after")
    def _mapping_is_disjoint(self) -> OutcomesConfig:
        both = set(self.won_values) & set(self.lost_values)
        if both:
            raise ValueError(f"values {sorted(both)} are mapped to both won and lost")
        if not self.won_values or not self.lost_values:
            raise ValueError("won_values and lost_values must each list at least one value")
        return self


class FeedbackFields(_Section):
    """Where leadloop's event fields are in a CRM's event object, as dotted JSON paths."""

    event_id: list[str] = Field(
        default_factory=list,
        description="Paths whose values, joined with ':', identify the event (retries repeat "
        "them); empty: the delivery's id header (webhook-id).",
    )
    lead_id: str = "lead_id"
    outcome: str = "outcome"
    occurred_at: str = "occurred_at"
    amount: str | None = None
    time_unit: Literal["s", "ms"] = "s"  # for an occurred_at sent as a number


class CrmWebhook(_Section):
    """A CRM's own webhook scheme: its payload mapped to leadloop's events."""

    fields: FeedbackFields = FeedbackFields()
    only: dict[str, str] = Field(default_factory=dict)  # keep events whose paths have these values
    outcome_values: dict[str, Literal["won", "lost"]] = Field(default_factory=dict)


def _deal_stages() -> dict[str, Literal["won", "lost"]]:
    """HubSpot's default pipeline: the internal ids of its closed stages."""
    return {"closedwon": "won", "closedlost": "lost"}


class HubSpotWebhook(CrmWebhook):
    """``POST /v1/feedback/hubspot``: HubSpot's v3 signature, its property-change events."""

    client_secret: SecretStr | None = None
    public_url: str | None = None  # the target URL as configured in HubSpot (what it signs)
    fields: FeedbackFields = FeedbackFields(
        event_id=["portalId", "objectId", "propertyName", "occurredAt"],
        lead_id="objectId",
        outcome="propertyValue",
        occurred_at="occurredAt",
        time_unit="ms",
    )
    only: dict[str, str] = Field(default_factory=lambda: {"propertyName": "dealstage"})
    outcome_values: dict[str, Literal["won", "lost"]] = Field(default_factory=_deal_stages)


class StandardWebhook(CrmWebhook):
    """``POST /v1/feedback/standard``: Standard Webhooks (webhook-id, -timestamp, -signature)."""

    secret: SecretStr | None = None  # whsec_<base64>, as the sender shows it
    fields: FeedbackFields = FeedbackFields(
        lead_id="data.lead_id",
        outcome="data.outcome",
        occurred_at="timestamp",
        amount="data.amount",
    )

    @field_validator("secret")
    @classmethod
    def _base64(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            try:
                key = base64.b64decode(
                    value.get_secret_value().removeprefix("whsec_"), validate=True
                )
            except ValueError as err:
                raise ValueError(
                    "expected whsec_ followed by base64 (as the sender shows it)"
                ) from err
            if not key:
                raise ValueError("the secret is empty")
        return value


class ServeConfig(_Section):
    """The scoring service, the feedback webhooks and the feedback store.

    Secrets belong in the environment (``LEADLOOP_SERVE__API_KEY``,
    ``LEADLOOP_SERVE__WEBHOOK_SECRET``, ``LEADLOOP_SERVE__HUBSPOT__CLIENT_SECRET``,
    ``LEADLOOP_SERVE__STANDARD__SECRET``), not in the file; they are never logged.
    """

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    workers: int = Field(default=1, ge=1)
    api_key: SecretStr | None = None
    webhook_secret: SecretStr | None = None
    hubspot: HubSpotWebhook = HubSpotWebhook()
    standard: StandardWebhook = StandardWebhook()
    store_url: str = "sqlite:///.leadloop/feedback.db"
    max_batch: int = Field(default=1000, ge=1)
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    replay_window_seconds: int = Field(default=300, ge=1)
    reload_seconds: float = Field(default=10.0, gt=0)
    reasons: int = Field(default=3, ge=0, le=20)
    strict_fields: bool = False
    docs: bool = True


class ScoringConfig(_Section):
    """How scores are computed: compiled trees (``pip install 'leadloop[fast]'``) or LightGBM.

    ``compile: auto`` compiles a model's trees for batches of more than ``compile_rows`` leads
    and, in the background, for the service; ``always`` for every scorer; ``never`` keeps
    LightGBM. Compiled trees are cached per model version in ``cache_dir``.
    """

    compile: Literal["auto", "always", "never"] = "auto"
    compile_rows: int = Field(default=100_000, ge=0)
    cache_dir: Path = Path(".leadloop/compiled")


class LabelsConfig(_Section):
    """Point-in-time labelling: the cutoff and what happens to leads with no outcome."""

    cutoff: datetime | None = None
    maturity_days: int = Field(default=90, gt=0)
    unmatured: Literal["lost", "exclude"] = "lost"
    use_young_decided: bool = False

    @field_validator("cutoff", mode="before")
    @classmethod
    def _cutoff(cls, value: Any) -> Any:
        """Read like a timestamp column: epoch by magnitude, zones to UTC, no day/month guess."""
        return None if value is None else parse_value(value, name="labels.cutoff")


class SplitConfig(_Section):
    """Out-of-time holdout and the validation and calibration slices of the training data."""

    holdout_fraction: float = Field(default=0.2, gt=0, lt=1)
    validation_fraction: float = Field(default=0.15, gt=0, lt=0.5)
    calibration_fraction: float = Field(default=0.15, gt=0, lt=0.5)
    min_holdout_rows: int = Field(default=50, ge=1)


class ModelConfig(_Section):
    """LightGBM and calibration settings."""

    num_boost_round: int = Field(default=1000, gt=0)
    early_stopping_rounds: int = Field(default=50, gt=0)
    learning_rate: float = Field(default=0.05, gt=0, le=1)
    num_leaves: int = Field(default=31, ge=2)
    min_data_in_leaf: int = Field(default=40, ge=1)
    feature_fraction: float = Field(default=0.9, gt=0, le=1)
    lambda_l2: float = Field(default=1.0, ge=0)
    num_threads: int = Field(default=0, ge=0)
    calibration: Literal["isotonic", "sigmoid"] = "isotonic"
    seed: int = 42


class EvaluationConfig(_Section):
    """Business settings for metrics: sales capacity is the share of leads sales can work."""

    capacity: float = Field(default=0.1, gt=0, le=1)
    calibration_bins: int = Field(default=10, ge=2)
    grade_cutoffs: list[float] = Field(default_factory=lambda: [0.4, 0.2, 0.1])

    @field_validator("grade_cutoffs")
    @classmethod
    def _descending(cls, value: list[float]) -> list[float]:
        if len(value) != 3 or sorted(value, reverse=True) != value or not value[-1] > 0:
            raise ValueError("give three probabilities, highest first, for grades A, B and C")
        return value


class GateConfig(_Section):
    """Promotion policy: what the challenger must show before it replaces the champion."""

    confidence: float = Field(default=0.95, gt=0.5, lt=1)
    min_auc_gain: float = Field(default=0.005, ge=0)
    max_recall_drop: float = Field(default=0.01, ge=0)
    max_ece: float = Field(default=0.05, gt=0)
    ece_tolerance: float = Field(default=0.01, ge=0)
    min_holdout_minority: int = Field(default=30, ge=1)
    top_features: int = Field(default=5, ge=1)
    block_on_drift: bool = True
    psi_severe: float = Field(default=0.25, gt=0)
    ks_severe: float = Field(default=0.15, gt=0, le=1)
    js_severe: float = Field(default=0.15, gt=0, le=1)
    false_alarm_rate: float = Field(default=0.003, gt=0, lt=0.5)
    min_history_kappa: float = Field(default=0.81, gt=0, le=1)
    null_draws: int = Field(default=200, ge=50)
    bootstrap_resamples: int = Field(default=200, ge=50)


class TrackingConfig(_Section):
    """MLflow store and registry names."""

    uri: str = "sqlite:///.leadloop/mlflow.db"
    artifact_root: Path = Path(".leadloop/artifacts")
    experiment: str = "leadloop"
    model_name: str = "lead-scorer"
    # Lock for moving the champion: derived from ``uri`` (PostgreSQL advisory lock, or a file
    # beside SQLite); for an MLflow server, give the PostgreSQL URL of its backend database.
    lock_url: str | None = None
    lock_timeout: float = Field(default=60.0, gt=0)
    shared: bool = False  # refuse a store that lives and dies with this machine (CI)


class SyntheticConfig(_Section):
    """The bundled synthetic data set, generated on first use when the input files are missing."""

    enabled: bool = True
    n_leads: int = Field(default=20_000, ge=100)
    months: int = Field(default=18, ge=2)
    seed: int = 7


class Settings(_Section):
    """The whole configuration."""

    leads: LeadsConfig = LeadsConfig()
    outcomes: OutcomesConfig = OutcomesConfig()
    labels: LabelsConfig = LabelsConfig()
    split: SplitConfig = SplitConfig()
    model: ModelConfig = ModelConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    gate: GateConfig = GateConfig()
    tracking: TrackingConfig = TrackingConfig()
    synthetic: SyntheticConfig = SyntheticConfig()
    serve: ServeConfig = ServeConfig()
    scoring: ScoringConfig = ScoringConfig()
    missing_values: list[str] = Field(default_factory=lambda: list(DEFAULT_MISSING))
    reports_dir: Path = Path("reports")
    base_dir: Path = Path(".")

    @field_validator("outcomes", mode="before")
    @classmethod
    def _outcomes_shorthand(cls, value: Any) -> Any:
        """``outcomes: store`` reads the CRM outcomes the webhook stored; ``outcomes: none``
        takes labels from ``leads.label_column`` alone."""
        return {"source": value} if value in ("store", "none") else value

    @model_validator(mode="after")
    def _labels_need_a_source(self) -> Settings:
        if self.outcomes.source == "none" and self.leads.label_column is None:
            raise ValueError(
                "outcomes: none takes the labels from the leads table: set leads.label_column "
                "to its won/lost column"
            )
        return self

    @field_validator("base_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.resolve()

    def resolve(self, path: Path) -> Path:
        """Return ``path`` made absolute against the configuration's base directory."""
        return path if path.is_absolute() else self.base_dir / path

    def tracking_uri(self) -> str:
        """The MLflow tracking URI with a relative SQLite path made absolute."""
        return self._absolute_sqlite(self.tracking.uri)

    def store_url(self) -> str:
        """The feedback store's SQLAlchemy URL with a relative SQLite path made absolute."""
        return self._absolute_sqlite(self.serve.store_url)

    def _absolute_sqlite(self, uri: str) -> str:
        prefix = "sqlite:///"
        if uri.startswith(prefix) and not uri.startswith(prefix + "/"):
            return prefix + str(self.base_dir / uri[len(prefix) :])
        return uri


def load_settings(
    path: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    base_dir: Path | None = None,
) -> Settings:
    """Load settings from ``path`` (or ``base_dir``/leadloop.yaml if present) and ``environ``.

    Relative paths in the file are taken relative to the file's directory.
    """
    cwd = (base_dir or Path.cwd()).resolve()
    raw: dict[str, Any] = {}
    source = "defaults"
    if path is None and (cwd / CONFIG_FILENAME).is_file():
        path = cwd / CONFIG_FILENAME
    if path is not None:
        raw = _read_yaml(path)
        source = str(path)
        cwd = path.resolve().parent
    from_env = _apply_env(raw, environ or {})
    raw.setdefault("base_dir", str(cwd))
    try:
        return Settings.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(_describe(err, source, from_env)) from err


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe YAML loader that refuses a key given twice in one mapping (the last would win)."""

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"key '{key}' is given twice", key_node.start_mark
                    )
                seen.add(key)
        return super().construct_mapping(node, deep=deep)  # type: ignore[arg-type]


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(
            f"{path}: configuration file not found (run `leadloop init` to write one)"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"{path}: is not UTF-8 text (byte {err.start} cannot be decoded); save it as UTF-8"
        ) from err
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader: no objects built
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"{path}:{where} is not valid YAML ({problem})") from err
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of sections at the top level")
    return data


def _apply_env(raw: dict[str, Any], environ: Mapping[str, str]) -> dict[tuple[str, ...], str]:
    """Override nested keys from ``LEADLOOP_SECTION__KEY=value``.

    A value is taken byte for byte (a ``#``-prefixed or ``null``-looking secret stays that
    string); pydantic converts it to the field's type. Only list and mapping settings are parsed,
    as YAML flow (``[won, Closed Won]``). Returns which variable set which key, so that an invalid
    value is reported against the variable rather than the file.
    """
    origin: dict[tuple[str, ...], str] = {}
    for name, value in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX):
            continue
        keys = [k.lower() for k in name[len(ENV_PREFIX) :].split("__") if k]
        if not keys:
            continue
        node = raw
        for key in keys[:-1]:
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                raise ConfigError(f"environment variable {name}: '{key}' is not a section")
            node = child
        node[keys[-1]] = _env_value(name, value, _field_annotation(keys))
        origin[tuple(keys)] = name
    return origin


def _field_annotation(keys: list[str]) -> Any:
    """The type annotation of the setting at ``keys``, or None when there is no such setting."""
    model: Any = Settings
    annotation: Any = None
    for key in keys:
        fields = getattr(model, "model_fields", None)
        if fields is None or key not in fields:
            return None
        annotation = fields[key].annotation
        model = _strip_optional(annotation)
    return annotation


def _strip_optional(annotation: Any) -> Any:
    args = [a for a in get_args(annotation) if a is not type(None)]
    if get_origin(annotation) in (Union, UnionType) and len(args) == 1:
        return args[0]
    return annotation


def _env_value(name: str, value: str, annotation: Any) -> Any:
    target = _strip_optional(annotation)
    if get_origin(target) in (list, dict) or target in (list, dict):
        try:
            return yaml.safe_load(value) if value else None
        except yaml.YAMLError as err:
            raise ConfigError(
                f"environment variable {name}: expected a YAML list or mapping such as "
                f"'[a, b]', got {value!r}"
            ) from err
    if value == "" and annotation is not None and type(None) in get_args(annotation):
        return None
    return value


def _describe(err: ValidationError, source: str, from_env: Mapping[tuple[str, ...], str]) -> str:
    first = err.errors()[0]
    key = ".".join(str(p) for p in first["loc"]) or "(top level)"
    variable = from_env.get(tuple(str(p) for p in first["loc"]))
    if variable is not None:
        return f"environment variable {variable} (key '{key}'): {first['msg']}"
    if first["type"] == "extra_forbidden":
        return f"{source}: unknown key '{key}' (check the spelling; `leadloop init` lists them)"
    return f"{source}: key '{key}': {first['msg']}"
