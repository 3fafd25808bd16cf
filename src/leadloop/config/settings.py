"""The whole configuration (``Settings``) and how it is loaded: ``leadloop.yaml``, then
``LEADLOOP_<SECTION>__<KEY>`` environment variables, into one validated model tree."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import UnionType
from typing import Any, Union, get_args, get_origin

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from leadloop.config.base import DEFAULT_MISSING, Section
from leadloop.config.sections import (
    DriftConfig,
    EvaluationConfig,
    GateConfig,
    LabelQualityConfig,
    LabelsConfig,
    LeadsConfig,
    ModelConfig,
    OutcomesConfig,
    PolicyConfig,
    SplitConfig,
    SyntheticConfig,
    TrackingConfig,
)
from leadloop.config.serve import ScoringConfig, ServeConfig
from leadloop.errors import ConfigError

CONFIG_FILENAME = "leadloop.yaml"
ENV_PREFIX = "LEADLOOP_"


class Settings(Section):
    """The whole configuration."""

    leads: LeadsConfig = LeadsConfig()
    outcomes: OutcomesConfig = OutcomesConfig()
    labels: LabelsConfig = LabelsConfig()
    split: SplitConfig = SplitConfig()
    model: ModelConfig = ModelConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    gate: GateConfig = GateConfig()
    drift: DriftConfig = DriftConfig()
    label_quality: LabelQualityConfig = LabelQualityConfig()
    tracking: TrackingConfig = TrackingConfig()
    synthetic: SyntheticConfig = SyntheticConfig()
    policy: PolicyConfig = PolicyConfig()
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

    def tracking_store_missing(self) -> bool:
        """True when the tracking store is a local SQLite file never created (no registry yet);
        a file-system test, so callers can answer before MLflow loads."""
        uri, prefix = self.tracking_uri(), "sqlite:///"
        return uri.startswith(prefix) and not Path(uri[len(prefix) :]).exists()

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
        settings = Settings.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(_describe(err, source, from_env)) from err
    return _with_user_cache(settings, environ or {})


def _with_user_cache(settings: Settings, environ: Mapping[str, str]) -> Settings:
    """``tracking.store_template_dir`` defaults to the user's cache directory (XDG), where the
    environment names one."""
    tracking = settings.tracking
    if tracking.store_template_dir is not None:
        return settings
    if environ.get("XDG_CACHE_HOME", "").startswith("/"):
        cache = Path(environ["XDG_CACHE_HOME"])
    elif environ.get("HOME", "").startswith("/"):
        cache = Path(environ["HOME"]) / ".cache"
    else:
        return settings
    template_dir = cache / "leadloop"
    return settings.model_copy(
        update={"tracking": tracking.model_copy(update={"store_template_dir": template_dir})}
    )


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
