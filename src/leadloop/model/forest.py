"""The booster's raw margins: compiled trees where lleaves is installed, else the trees walked
in C (``model/walk.py``), else LightGBM.

lleaves compiles a LightGBM text model to machine code with LLVM: the same margins (within about
1e-14: it adds the trees in its own order) several times faster than ``Booster.predict``.
Compiling takes seconds, so the object code is cached per model in ``scoring.cache_dir``, under a
name made of the registered model's name and version and a hash of the model text, the
compiler's version and the CPU it was compiled for (the code is specialised to that CPU). The
matrix holds categoricals as LightGBM's own integer codes, which compiled trees read as LightGBM
does.

lleaves is an optional extra (``pip install 'leadloop[fast]'``; it needs ``llvmlite<0.44``);
without it, or when compiling fails, the walk predicts (LightGBM where the C extension is not
built) and a log line says so. A model trained in this run is never compiled (compiling costs
more than every prediction a run makes): its margins come from the walk, the same numbers as
LightGBM's to the last bit, about twice as fast on a batch and ten times on one row.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
from pathlib import Path
from typing import Any, Protocol

import lightgbm as lgb
import numpy as np

from leadloop.data import io
from leadloop.model.threads import CORES
from leadloop.model.walk import TreeWalk, walk_of

log = logging.getLogger(__name__)

FEW_ROWS = 256  # fewer rows are faster on one thread: waking the others costs more
MODEL_TEXT = "model.txt"
OBJECT_FILE = "forest.o"


class Forest(Protocol):
    """What scoring needs of a forest: raw margins of an encoded matrix."""

    engine: str

    def margin(self, matrix: np.ndarray) -> np.ndarray: ...


class BoosterForest:
    """LightGBM's own prediction."""

    engine = "lightgbm"

    def __init__(self, booster: lgb.Booster) -> None:
        self.booster = booster

    def margin(self, matrix: np.ndarray) -> np.ndarray:
        threads: dict[str, Any] = {"num_threads": 1} if len(matrix) <= FEW_ROWS else {}
        raw = self.booster.predict(matrix, raw_score=True, **threads)
        return np.asarray(raw, dtype=np.float64)


class WalkedForest:
    """The trees walked in C (``model/walk.py``)."""

    engine = "tree walk"

    def __init__(self, walk: TreeWalk) -> None:
        self.walk = walk

    def margin(self, matrix: np.ndarray) -> np.ndarray:
        return self.walk.margin(matrix, threads=1 if len(matrix) <= FEW_ROWS else None)


def booster_forest(booster: lgb.Booster) -> Forest:
    """The walk of ``booster``'s trees, or LightGBM's predict where the walk does not cover it."""
    walk = walk_of(booster.model_to_string())
    return WalkedForest(walk) if walk is not None else BoosterForest(booster)


class CompiledForest:
    """Trees compiled to machine code by lleaves."""

    engine = "lleaves"

    def __init__(self, compiled: Any, *, path: Path) -> None:
        self.compiled = compiled
        self.path = path

    def margin(self, matrix: np.ndarray) -> np.ndarray:
        jobs = 1 if len(matrix) <= FEW_ROWS else CORES
        return np.asarray(self.compiled.predict(matrix, n_jobs=jobs), dtype=np.float64)


def compile_forest(model_text: str, *, cache_dir: Path, label: str) -> Forest | None:
    """The compiled trees of ``model_text``, from the cache or compiled into it; None (and a
    log line) where lleaves is not installed or cannot compile this model."""
    try:
        import lleaves
        from llvmlite import binding
    except ImportError:
        log.info(
            "compiled trees unavailable (lleaves is not installed: pip install 'leadloop[fast]');"
            " scoring with LightGBM"
        )
        return None
    final = cache_dir / f"{_safe(label)}-{_key(model_text, binding)}"
    try:
        if not (final / OBJECT_FILE).is_file():
            _compile_into(lleaves, model_text, final, label)
        compiled = lleaves.Model(model_file=str(final / MODEL_TEXT))
        compiled.compile(cache=str(final / OBJECT_FILE), raw_score=True)
    except (OSError, RuntimeError, ValueError, KeyError, NotImplementedError) as err:
        log.warning("could not compile the trees of %s (%s); scoring with LightGBM", label, err)
        return None
    log.info("scoring %s with compiled trees (lleaves), cached in %s", label, final)
    return CompiledForest(compiled, path=final)


def _compile_into(lleaves: Any, model_text: str, final: Path, label: str) -> None:
    """Compile in a staging directory beside ``final`` and move it into place (the first of
    several processes compiling the same model wins; the others' copies are dropped)."""
    staged = io.staging_dir(final)
    try:
        io.write_text(model_text, staged / MODEL_TEXT)
        log.info("compiling the trees of %s (once per model version)", label)
        model = lleaves.Model(model_file=str(staged / MODEL_TEXT))
        model.compile(cache=str(staged / OBJECT_FILE), raw_score=True)
    except BaseException:
        io.discard_dir(staged)
        raise
    io.publish_dir_once(staged, final)


def _key(model_text: str, binding: Any) -> str:
    """A hash of what the object code depends on: the model, the compiler and the CPU."""
    digest = hashlib.sha256(model_text.encode("utf-8"))
    try:
        features = binding.get_host_cpu_features().flatten()
    except RuntimeError:
        features = ""
    for part in (
        importlib.metadata.version("lleaves"),
        importlib.metadata.version("llvmlite"),
        binding.get_host_cpu_name(),
        features,
    ):
        digest.update(b"\0" + str(part).encode("utf-8"))
    return digest.hexdigest()[:20]


def _safe(label: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in label) or "model"
