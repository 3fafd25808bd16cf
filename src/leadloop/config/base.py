"""The base of every settings section: no unknown keys, frozen once loaded."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

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


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
