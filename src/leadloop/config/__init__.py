"""Typed settings: one pydantic model tree, loaded once at the edge and passed down.

Every section has defaults, so ``leadloop run`` works with no file at all on the bundled synthetic
data. A ``leadloop.yaml`` overrides any of them; environment variables named
``LEADLOOP_<SECTION>__<KEY>`` (e.g. ``LEADLOOP_TRACKING__URI``) override the file.
"""

from __future__ import annotations

from leadloop.config.base import DEFAULT_MISSING
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
from leadloop.config.serve import (
    CrmWebhook,
    FeedbackFields,
    HubSpotWebhook,
    ScoringConfig,
    ServeConfig,
    StandardWebhook,
)
from leadloop.config.settings import CONFIG_FILENAME, ENV_PREFIX, Settings, load_settings

__all__ = [
    "CONFIG_FILENAME",
    "DEFAULT_MISSING",
    "ENV_PREFIX",
    "CrmWebhook",
    "DriftConfig",
    "EvaluationConfig",
    "FeedbackFields",
    "GateConfig",
    "HubSpotWebhook",
    "LabelQualityConfig",
    "LabelsConfig",
    "LeadsConfig",
    "ModelConfig",
    "OutcomesConfig",
    "PolicyConfig",
    "ScoringConfig",
    "ServeConfig",
    "Settings",
    "SplitConfig",
    "StandardWebhook",
    "SyntheticConfig",
    "TrackingConfig",
    "load_settings",
]
