"""The champion's view of a lead: its fields typed for OpenAPI, and fields it does not know.

The JSON schema of ``Lead`` in the OpenAPI document is built from the champion's fitted
encoding: one property per feature with its type (numeric, boolean, timestamp, or text with
the categories seen in training), so a client sees what to send. A field the champion neither
uses nor saw in training (a misspelt ``pagesViewed``) is reported back per lead, and refused
with 422 when ``serve.strict_fields`` is on. Values are still checked by the encoder, with the
same rules as in training; the schema documents them.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from leadloop.features import RESERVED, Feature, FeatureEncoder

SHOWN_CATEGORIES = 50  # the encoder keeps at most this many per feature by default
_NULL = {"type": "null"}


@dataclass(frozen=True)
class LeadFields:
    """The fields of a lead as a champion knows them."""

    version: str
    features: tuple[Feature, ...]
    known: frozenset[str]

    @classmethod
    def of(cls, encoder: FeatureEncoder, version: str) -> LeadFields:
        """From a fitted encoder: its features, plus the ids and the columns it excluded."""
        names = {f.name for f in encoder.features_} | set(RESERVED) | set(encoder.excluded_)
        return cls(version, tuple(encoder.features_), frozenset(names))

    def unknown(self, record: Mapping[str, Any]) -> list[str]:
        """The record's fields the champion does not know, in the record's order."""
        return [name for name in record if name not in self.known]

    def refusal(self, records: Sequence[Mapping[str, Any]], unknown: Sequence[list[str]]) -> str:
        """The 422 message for unknown fields under ``serve.strict_fields``."""
        row = next(i for i, names in enumerate(unknown) if names)
        lead_id = records[row].get("lead_id")
        where = f"lead {row + 1}" + (f" ({lead_id})" if lead_id is not None else "")
        names = unknown[row]
        hints = [
            f"'{n}' (did you mean '{s}'?)" if (s := self.closest(n)) else f"'{n}'" for n in names
        ]
        more = sum(1 for names in unknown if names) - 1
        tail = f"; {more} more lead(s) have unknown fields" if more else ""
        return (
            f"{where}: unknown field(s) {', '.join(hints[:5])}: the champion (v{self.version}) "
            f"does not use them and serve.strict_fields is on{tail}"
        )

    def closest(self, name: str) -> str | None:
        """The feature a misspelt name most likely meant (case and separators aside)."""
        wanted = {_squash(f.name): f.name for f in self.features}
        if _squash(name) in wanted:
            return wanted[_squash(name)]
        found = difflib.get_close_matches(name, [f.name for f in self.features], n=1, cutoff=0.75)
        return found[0] if found else None

    def json_schema(self, *, strict: bool) -> dict[str, Any]:
        """The ``Lead`` JSON schema: typed features, and whether other fields are refused."""
        properties: dict[str, Any] = {
            "lead_id": {
                "anyOf": [{"type": "string", "maxLength": 200}, _NULL],
                "title": "Lead Id",
                "description": "Your id for the lead.",
            },
            "created_at": {
                "anyOf": [{"type": "string", "format": "date-time"}, _NULL],
                "title": "Created At",
                "description": "When the lead was created; ages of timestamp fields count from it.",
            },
        }
        properties.update({f.name: _property(f) for f in self.features})
        return {
            "type": "object",
            "title": "Lead",
            "description": (
                f"One lead, with the fields the champion (v{self.version}) uses. A field left "
                "out is missing, as in training; a text value it has not seen counts as 'other'. "
                + (
                    "Other fields are refused (serve.strict_fields)."
                    if strict
                    else "Other fields are ignored and listed in the score's unknown_fields."
                )
            ),
            "properties": properties,
            "additionalProperties": not strict,
            "examples": [self.example()],
        }

    def example(self) -> dict[str, Any]:
        """A lead with a plausible value for each feature."""
        example: dict[str, Any] = {"lead_id": "L-10042", "created_at": "2026-11-20T09:30:00Z"}
        for feature in self.features:
            example[feature.name] = _example_value(feature)
        return example


def _property(feature: Feature) -> dict[str, Any]:
    title = feature.name.replace("_", " ").capitalize()
    if feature.kind == "numeric":
        return {"anyOf": [{"type": "number"}, _NULL], "title": title, "description": "A number."}
    if feature.kind == "boolean":
        return {
            "anyOf": [{"type": "boolean"}, {"type": "string", "enum": ["yes", "no"]}, _NULL],
            "title": title,
            "description": "true or false ('yes' and 'no' are read too).",
        }
    if feature.kind == "datetime":
        return {
            "anyOf": [{"type": "string", "format": "date-time"}, _NULL],
            "title": title,
            "description": "A timestamp; the model uses its age in days at created_at.",
        }
    shown = feature.categories[:SHOWN_CATEGORIES]
    return {
        "anyOf": [{"type": "string", "enum": shown}, {"type": "string"}, _NULL],
        "title": title,
        "description": (
            f"One of the {len(feature.categories)} values seen in training "
            f"({', '.join(shown[:8])}{', ...' if len(shown) > 8 else ''}); "
            "any other text counts as 'other' (rare or new)."
        ),
        "examples": shown[:3],
    }


def _example_value(feature: Feature) -> Any:
    if feature.kind == "numeric":
        return 3
    if feature.kind == "boolean":
        return True
    if feature.kind == "datetime":
        return "2026-11-01T00:00:00Z"
    return feature.categories[0] if feature.categories else "other"


def _squash(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())
