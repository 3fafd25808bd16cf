"""The API's one mapping of leadloop's errors to HTTP statuses."""

from __future__ import annotations

import pytest

from leadloop.errors import (
    ChampionChangedError,
    ConfigError,
    InputError,
    LeadloopError,
    RegistryBusyError,
    RegistryError,
    StoreError,
)
from leadloop.serve.problems import status_of


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (InputError("bad value", column="amount"), 422),
        (StoreError("feedback store down"), 503),
        (RegistryError("no version 7"), 503),
        (RegistryBusyError("lock held"), 503),
        (ChampionChangedError("v1 -> v2"), 409),
        (ConfigError("bad setting"), 500),
        (LeadloopError("ours"), 500),
    ],
    ids=["input", "store", "registry", "registry-busy", "champion-changed", "config", "other"],
)
def test_each_error_class_has_one_status(error: LeadloopError, status: int) -> None:
    """It answers a registry or store error with 503 (retry later), never 500."""
    assert status_of(error) == status
