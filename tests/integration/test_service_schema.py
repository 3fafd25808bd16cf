"""The lead schema typed from the champion, unknown fields, and the packaged docs page."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import serving, settings_for


@pytest.fixture(scope="module")
def client(registered: Path) -> Any:
    """The service on the registered project, with its default (lenient) field checks."""
    with serving(settings_for(registered)) as url, httpx.Client(base_url=url, timeout=30) as c:
        yield c


def test_openapi_types_the_lead_from_the_champion(client: httpx.Client) -> None:
    """It documents each of the champion's fields with its type and known categories."""
    spec = client.get("/openapi.json").json()
    lead = spec["components"]["schemas"]["Lead"]
    fields = client.get("/v1/model").json()["features"]
    assert set(fields) <= set(lead["properties"])
    pages = lead["properties"]["pages_viewed"]["anyOf"]
    assert {"type": "number"} in pages
    demo = lead["properties"]["demo_requested"]["anyOf"]
    assert {"type": "boolean"} in demo
    source = lead["properties"]["lead_source"]
    assert "referral" in source["anyOf"][0]["enum"] and {"type": "string"} in source["anyOf"]
    assert lead["additionalProperties"] is True
    assert lead["examples"][0]["lead_source"] in source["anyOf"][0]["enum"]
    body = spec["paths"]["/v1/score"]["post"]["requestBody"]["content"]["application/json"]
    assert any(s.get("$ref", "").endswith("/Lead") for s in body["schema"]["anyOf"])
    example = body["examples"]["one"]["value"]
    assert set(example) == set(lead["properties"])  # the champion's own fields, nothing else
    assert "securitySchemes" not in spec["components"]  # no key here: no scheme to claim


def test_a_misspelt_field_is_reported_back(client: httpx.Client) -> None:
    """It scores a lead with a misspelt field as before and lists the field it did not know."""
    lead = {"lead_id": "L-1", "lead_source": "referral", "pagesViewed": 25, "demo_requested": True}
    record = client.post("/v1/score", json=lead).json()["scores"][0]
    assert record["unknown_fields"] == ["pagesViewed"]
    fine = client.post("/v1/score", json={**lead, "pages_viewed": 25}).json()["scores"][0]
    assert fine["unknown_fields"] == ["pagesViewed"]
    del lead["pagesViewed"]
    assert client.post("/v1/score", json=lead).json()["scores"][0]["unknown_fields"] == []


def test_strict_fields_refuse_a_misspelt_field_with_a_suggestion(registered: Path) -> None:
    """It answers 422 naming the lead, the field and the likely meant one under strict_fields."""
    settings = settings_for(registered, serve__strict_fields="true")
    leads = [{"lead_id": "ok", "pages_viewed": 2}, {"lead_id": "L-9", "pagesViewed": 25}]
    with serving(settings) as url, httpx.Client(base_url=url, timeout=30) as client:
        answer = client.post("/v1/score", json=leads)
        assert answer.status_code == 422
        assert answer.json()["detail"].startswith(
            "lead 2 (L-9): unknown field(s) 'pagesViewed' (did you mean 'pages_viewed'?)"
        )
        assert client.post("/v1/score", json=leads[0]).status_code == 200
        lead = client.get("/openapi.json").json()["components"]["schemas"]["Lead"]
        assert lead["additionalProperties"] is False


def test_the_docs_page_uses_only_packaged_assets(client: httpx.Client) -> None:
    """It serves /docs whose scripts and styles come from the service itself, not a CDN."""
    page = client.get("/docs")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("/docs/assets/") for s in sources), sources
    for source in sources:
        asset = client.get(source)
        assert asset.status_code == 200 and len(asset.content) > 500, source
    assert "cdn" not in page.text.lower()


def test_docs_can_be_turned_off(registered: Path) -> None:
    """It serves neither /docs nor /openapi.json with serve.docs off."""
    with serving(settings_for(registered, serve__docs="false")) as url:
        assert httpx.get(f"{url}/docs").status_code == 404
        assert httpx.get(f"{url}/openapi.json").status_code == 404
