"""Training: LightGBM with native categoricals and early stopping, calibrated on its own slice.

``LeadModel`` is what travels: the fitted column encoding, the LightGBM text model and the
calibrator, saved as text files (JSON and LightGBM's own format), never pickled.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property, partial
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split

from leadloop.config import ModelConfig, SplitConfig
from leadloop.data.labels import YoungLeads
from leadloop.drift import build_profile, score_profile
from leadloop.errors import InputError
from leadloop.features import FeatureEncoder, Kind
from leadloop.label_null import MAX_ROWS, null_offsets
from leadloop.model.calibrate import Calibrator, Method
from leadloop.model.forest import Forest, booster_forest
from leadloop.model.metadata import ModelMetadata
from leadloop.model.params import scorer_params
from leadloop.model.treeshap import TreeShap

MODEL_FILE = "model.txt"
ENCODING_FILE = "encoding.json"
MIN_CLASS_ROWS = 10


class LeadModel:
    """A trained scorer: column encoding, booster and calibrator, used together.

    ``forest`` computes the booster's margins (its trees walked in C until compiled trees are
    swapped in, see ``model/forest.py``); ``explainer`` its exact TreeSHAP contributions.
    """

    def __init__(
        self,
        *,
        encoder: FeatureEncoder,
        booster: lgb.Booster,
        calibrator: Calibrator,
        metadata: ModelMetadata | None = None,
        forest: Forest | None = None,
    ) -> None:
        self.encoder = encoder
        self.booster = booster
        self.calibrator = calibrator
        self.metadata = metadata or ModelMetadata()
        self.forest: Forest = forest if forest is not None else booster_forest(booster)

    @cached_property
    def explainer(self) -> TreeShap:
        """Exact TreeSHAP (LightGBM's ``pred_contrib``), built on first use."""
        return TreeShap(self.booster)

    def predict_proba(self, frame: pd.DataFrame, *, source: str = "input") -> np.ndarray:
        """Calibrated conversion probability for each row of ``frame``."""
        return self.predict_matrix(self.encoder.transform(frame, source=source))

    def predict_matrix(self, matrix: np.ndarray) -> np.ndarray:
        """Calibrated probability for an already encoded matrix (the fast path)."""
        return self.calibrator.predict(self.forest.margin(matrix))

    def mean_abs_contributions(
        self, frame: pd.DataFrame, *, max_rows: int = 2_000, seed: int = 0
    ) -> dict[str, float]:
        """Global importance: mean |TreeSHAP contribution| per feature (log-odds), on a sample."""
        if len(frame) > max_rows:
            frame = frame.sample(max_rows, random_state=seed)
        return self.importance(self.encoder.transform(frame))

    def importance(self, matrix: np.ndarray) -> dict[str, float]:
        """Mean |TreeSHAP contribution| per feature (log-odds) over an encoded matrix."""
        means = np.abs(self.explainer.contributions(matrix)[:, :-1]).mean(axis=0)
        return dict(zip(self.encoder.feature_names_, means.tolist(), strict=True))

    def to_artifacts(self) -> dict[str, str]:
        """The model as text files: file name -> content."""
        encoding = {
            "format": 1,
            "encoder": self.encoder.to_dict(),
            "calibrator": self.calibrator.to_dict(),
            "metadata": self.metadata.to_dict(),
        }
        return {
            MODEL_FILE: self.booster.model_to_string(),
            ENCODING_FILE: json.dumps(encoding, indent=1, default=str),
        }

    @classmethod
    def from_artifacts(cls, files: dict[str, str]) -> LeadModel:
        """Rebuild a model from ``to_artifacts`` output."""
        encoding = json.loads(files[ENCODING_FILE])
        return cls(
            encoder=FeatureEncoder.from_dict(encoding["encoder"]),
            booster=lgb.Booster(model_str=files[MODEL_FILE]),
            calibrator=Calibrator.from_dict(encoding["calibrator"]),
            metadata=ModelMetadata.from_dict(encoding.get("metadata", {})),
        )


@dataclass(frozen=True)
class TrainResult:
    """A trained model and the facts of its training."""

    model: LeadModel
    best_iteration: int
    rows: dict[str, int]
    positives: int
    fit_seconds: float
    params: dict[str, Any] = field(default_factory=dict)
    # With inverse-propensity weights: the power they were trained with and each candidate's
    # importance-weighted validation log loss (``FLATTENING``); None when unweighted.
    flattening: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {
            "best_iteration": self.best_iteration,
            "rows": self.rows,
            "positives": self.positives,
            "fit_seconds": round(self.fit_seconds, 3),
            "params": self.params,
        }
        return out if self.flattening is None else {**out, "weight_flattening": self.flattening}


def train_model(
    frame: pd.DataFrame,
    y: np.ndarray,
    *,
    config: ModelConfig,
    split: SplitConfig,
    exclude: tuple[str, ...] = (),
    feature_types: dict[str, Kind] | None = None,
    young: YoungLeads | None = None,
    weights: np.ndarray | None = None,
) -> TrainResult:
    """Fit encoder, booster (early-stopped on a validation slice) and calibrator (own slice);
    with ``weights`` (inverse propensities, ``leadloop.influence``) one fit per ``FLATTENING``
    power, and the one with the least importance-weighted validation loss is kept."""
    y = np.asarray(y, dtype=np.float64)
    w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=np.float64)
    _check_classes(y)
    encoder = FeatureEncoder(exclude=exclude, feature_types=feature_types).fit(
        frame, y, young=young
    )
    matrix = encoder.transform(frame, source="training data")
    fit_idx, valid_idx, cal_idx = _slices(y, split=split, seed=config.seed)
    params = scorer_params(config)
    started = time.perf_counter()
    slices = (fit_idx, valid_idx, cal_idx)
    fit = partial(_fit_flattened, params, config, matrix, y, slices, encoder)
    best, flattening = _choose_fit(fit, matrix, y, w, valid_idx, weights is not None)
    fit_seconds = time.perf_counter() - started
    booster, calibrator, margin = best.booster, best.calibrator, best.calibration_margin
    model = LeadModel(encoder=encoder, booster=booster, calibrator=calibrator, forest=best.forest)
    trained_w = w ** (flattening or {}).get("power", 1.0)  # the weights the booster had
    model.metadata = ModelMetadata(
        # One importance everywhere: mean |TreeSHAP contribution| (here on the calibration slice).
        feature_importance=model.importance(matrix[cal_idx[:2_000]]),
        label_null=_label_null(
            params, encoder, matrix, y, trained_w, (valid_idx, cal_idx), best, config.seed
        ),
        validation_auc=float(roc_auc_score(y[cal_idx], margin)),
        trained_rows=len(y),
        # The drift reference: the training data's profile, and the calibrated scores on the
        # calibration slice (a random sample of the training period the booster never fit).
        profile=build_profile(matrix, encoder.features_),
        score_profile=score_profile(calibrator.predict(np.asarray(margin))),
    )
    rows = {"fit": len(fit_idx), "validation": len(valid_idx), "calibration": len(cal_idx)}
    return TrainResult(
        model,
        int(booster.best_iteration or booster.current_iteration()),
        rows,
        int(y.sum()),
        fit_seconds,
        params,
        flattening,
    )


# Training weights w ** power, the power chosen among these by importance-weighted validation.
# When the policy's choice of leads depends only on their features (as leadloop's does), the
# unweighted fit of a flexible model is already consistent and has the least variance; full
# weights (power 1) remove the bias a misspecified model has on the leads rarely worked, at the
# price of variance; flattened weights trade the two (Shimodaira, JSPI 2000).
FLATTENING = (0.0, 0.5, 1.0)


@dataclass(frozen=True)
class _Fit:
    booster: lgb.Booster
    forest: Forest  # the booster's margins
    calibrator: Calibrator
    calibration_margin: np.ndarray  # the booster's margins on the calibration slice

    def proba(self, matrix: np.ndarray) -> np.ndarray:
        return self.calibrator.predict(self.forest.margin(matrix))


def _choose_fit(
    fit: Callable[[np.ndarray], _Fit],
    matrix: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    valid: np.ndarray,
    weighted: bool,
) -> tuple[_Fit, dict[str, Any] | None]:
    """One fit unweighted, or one per ``FLATTENING`` power and the best of them, chosen by
    importance-weighted validation (Sugiyama, Krauledat and Mueller, JMLR 2007): the log loss
    on the validation slice weighted by the full inverse propensities estimates each fit's loss
    on all leads without bias, whatever flattening it was trained with."""
    if not weighted:
        return fit(w), None
    fits = [fit(w**power) for power in FLATTENING]
    losses = [_weighted_log_loss(y[valid], f.proba(matrix[valid]), w[valid]) for f in fits]
    chosen = int(np.argmin(losses))
    record = {
        "power": FLATTENING[chosen],
        "weighted_log_loss": dict(zip(map(str, FLATTENING), losses, strict=True)),
    }
    return fits[chosen], record


def _fit_flattened(
    params: dict[str, Any],
    config: ModelConfig,
    matrix: np.ndarray,
    y: np.ndarray,
    slices: tuple[np.ndarray, np.ndarray, np.ndarray],
    encoder: FeatureEncoder,
    w: np.ndarray,
) -> _Fit:
    """Booster and calibrator trained with the weights ``w`` (one candidate flattening)."""
    fit_idx, valid_idx, cal_idx = slices
    booster = _fit_booster(params, config, matrix, y, w, (fit_idx, valid_idx), encoder)
    booster.free_dataset()
    forest = booster_forest(booster)
    margin = forest.margin(matrix[cal_idx])
    method = calibration_method(config.calibration, w[cal_idx])
    calibrator = Calibrator(method=method).fit(margin, y[cal_idx], w[cal_idx])
    return _Fit(booster, forest, calibrator, margin)


def _weighted_log_loss(y: np.ndarray, proba: np.ndarray, w: np.ndarray) -> float:
    p = np.clip(proba, 1e-12, 1 - 1e-12)
    return float(np.average(-(y * np.log(p) + (1 - y) * np.log(1 - p)), weights=w))


# Isotonic calibration overfits below about a thousand calibration leads, where Platt's two
# parameters do better (Niculescu-Mizil and Caruana, ICML 2005: their calibration learning curves).
ISOTONIC_MIN_EFFECTIVE = 1_000


def calibration_method(configured: Method, weights: np.ndarray) -> Method:
    """The configured method, except that an isotonic calibration on unequal (inverse-propensity)
    weights whose effective size (Kish) is under ``ISOTONIC_MIN_EFFECTIVE`` becomes sigmoid: a
    handful of heavily weighted explored leads would otherwise set whole isotonic steps. Equal
    weights keep the configured method whatever the slice's size."""
    from leadloop.influence import effective_sample_size

    if configured != "isotonic" or np.ptp(weights) == 0:
        return configured
    small = effective_sample_size(weights) < ISOTONIC_MIN_EFFECTIVE
    return "sigmoid" if small else configured


def _fit_booster(
    params: dict[str, Any],
    config: ModelConfig,
    matrix: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    slices: tuple[np.ndarray, np.ndarray],
    encoder: FeatureEncoder,
) -> lgb.Booster:
    """The booster, fitted on the fit slice and early-stopped on the validation slice."""
    fit_idx, valid_idx = slices
    fit_set = _dataset(matrix[fit_idx], y[fit_idx], encoder, weight=w[fit_idx])
    valid_set = _dataset(
        matrix[valid_idx], y[valid_idx], encoder, reference=fit_set, weight=w[valid_idx]
    )
    return lgb.train(
        params,
        fit_set,
        num_boost_round=config.num_boost_round,
        valid_sets=[valid_set],
        callbacks=[lgb.early_stopping(config.early_stopping_rounds, verbose=False)],
    )


def _label_null(
    params: dict[str, Any],
    encoder: FeatureEncoder,
    matrix: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    held: tuple[np.ndarray, np.ndarray],
    best: _Fit,
    seed: int,
) -> dict[str, float]:
    """The offsets of the booster's own label null, on labelled rows it was not fitted on.

    The offset is the training procedure's optimism about its own probabilities, and its
    uncertainty (the AUC's spread on the rows it is measured on) widens every later alarm bound.
    Measured on the validation and calibration slices alone it rests on 30% of the labelled
    rows; cross-fitted, every labelled row is scored by a model that never saw it, so the
    offset is known about sqrt(1 / 0.3) = 1.8 times more precisely. Each fold model trains with
    the booster's own rounds on (K - 1) / K of the rows, K chosen so that share is nearest the
    fit slice's (the final booster's), so the fold models are as sure of themselves as it is.
    Above ``MAX_ROWS`` labelled rows the held-out slices alone exceed 30,000 rows, the AUC's
    spread there is under 0.005, and the K extra fits would buy nothing: the slices are used.
    """
    valid_idx, cal_idx = held
    booster = best.booster
    if len(y) > MAX_ROWS:  # the calibration slice's margins are already known
        rows = np.concatenate([valid_idx, cal_idx])
        valid = best.forest.margin(matrix[valid_idx])
        margin = np.concatenate([valid, best.calibration_margin])
    else:
        rows, margin = np.arange(len(y)), np.empty(len(y))
        rounds = int(booster.best_iteration or booster.current_iteration())
        # K folds leave 1 / K of the rows out, as the validation and calibration slices do.
        k = round(len(y) / (len(valid_idx) + len(cal_idx)))
        folds = StratifiedKFold(max(2, k), shuffle=True, random_state=seed)
        for train, test in folds.split(matrix, y):
            data = _dataset(matrix[train], y[train], encoder, weight=w[train])
            fold = lgb.train(params, data, num_boost_round=rounds)
            margin[test] = booster_forest(fold).margin(matrix[test])
    return null_offsets(y[rows], 1 / (1 + np.exp(-margin)))


def _check_classes(y: np.ndarray) -> None:
    won = int(y.sum())
    lost = len(y) - won
    if min(won, lost) < MIN_CLASS_ROWS:
        raise InputError(
            f"too few labelled leads to train: {won} won and {lost} lost before the "
            f"holdout; at least {MIN_CLASS_ROWS} of each are needed"
        )


def _slices(
    y: np.ndarray, *, split: SplitConfig, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stratified random fit / validation / calibration row indices."""
    index = np.arange(len(y))
    held = split.validation_fraction + split.calibration_fraction
    fit_idx, rest = train_test_split(index, test_size=held, stratify=y, random_state=seed)
    share = split.calibration_fraction / held
    valid_idx, cal_idx = train_test_split(
        rest, test_size=share, stratify=y[rest], random_state=seed
    )
    return np.sort(fit_idx), np.sort(valid_idx), np.sort(cal_idx)


def _dataset(
    matrix: np.ndarray,
    y: np.ndarray,
    encoder: FeatureEncoder,
    *,
    reference: lgb.Dataset | None = None,
    weight: np.ndarray | None = None,
) -> lgb.Dataset:
    return lgb.Dataset(
        matrix,
        label=y,
        weight=weight,
        feature_name=encoder.feature_names_,
        categorical_feature=encoder.categorical_indices_,
        reference=reference,
        free_raw_data=True,
    )
