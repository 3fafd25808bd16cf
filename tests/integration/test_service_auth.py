"""The API key over real HTTP: secrets taken byte for byte, which routes need the key."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.forked import fork_cli
from tests.integration.conftest import serving, settings_for


@pytest.mark.parametrize("key", ["#Zq9!secret", "null", "12345"], ids=["hash", "null", "numeric"])
def test_a_key_from_the_environment_is_enforced_as_given(registered: Path, key: str) -> None:
    """It requires the exact LEADLOOP_SERVE__API_KEY bytes on /v1/score and /v1/model only."""
    settings = settings_for(registered, serve__api_key=key)
    lead = {"pages_viewed": 3}
    right = {"Authorization": f"Bearer {key}"}
    with serving(settings) as url, httpx.Client(base_url=url, timeout=30) as client:
        assert client.post("/v1/score", json=lead).status_code == 401
        wrong = client.post("/v1/score", json=lead, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
        assert client.post("/v1/score", json=lead, headers=right).status_code == 200
        assert client.get("/v1/model").status_code == 401
        assert client.get("/v1/model", headers=right).json()["version"] == "1"
        assert client.get("/healthz").status_code == 200
        assert client.get("/metrics").status_code == 200
        spec = client.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert spec["paths"]["/v1/score"]["post"]["security"] == [{"bearer": []}]
    assert spec["paths"]["/v1/model"]["get"]["security"] == [{"bearer": []}]
    assert "security" not in spec["paths"]["/healthz"]["get"]


def test_serve_without_a_key_refuses_to_start(registered: Path) -> None:
    """It exits 2 with one line naming the variable and --no-auth when no API key is set."""
    done = fork_cli("serve", "--port", "0", cwd=registered)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr
    assert "LEADLOOP_SERVE__API_KEY" in lines[0] and "--no-auth" in lines[0]
