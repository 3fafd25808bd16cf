"""Column typing and encoding for the model, fitted once and saved as JSON beside the model.

- ``kinds``: what each column is, and which columns are never features by name or role;
- ``encode``: a table's columns and plain records encoded by the same rules;
- ``guard``: the leak guard applied while fitting;
- ``encoder.FeatureEncoder``: fit, transform, and the fitted encoding as JSON.
"""

from __future__ import annotations

from leadloop.features.encoder import FeatureEncoder
from leadloop.features.kinds import LEAK_NAMES, RESERVED, Feature, Kind

__all__ = ["LEAK_NAMES", "RESERVED", "Feature", "FeatureEncoder", "Kind"]
