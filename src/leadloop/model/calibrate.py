"""Probability calibration on a held-apart slice, stored as plain numbers (no pickles).

Isotonic calibration keeps its fitted breakpoints and interpolates between them; sigmoid (Platt)
calibration keeps two coefficients. Both map LightGBM's raw margin to a probability.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from scipy.optimize import minimize
from sklearn.isotonic import IsotonicRegression

Method = Literal["isotonic", "sigmoid"]
_EPS = 1e-6
_TIE_BREAK = 1e-6


class Calibrator:
    """Maps raw model margins to calibrated probabilities."""

    def __init__(self, *, method: Method = "isotonic") -> None:
        self.method = method

    def fit(
        self, margin: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None
    ) -> Calibrator:
        """Learn the mapping from margins to observed outcomes (each row counted ``weights``
        times when given: inverse propensities make the rates those of all leads)."""
        margin = np.asarray(margin, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=np.float64)
        if self.method == "isotonic":
            iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
            iso.fit(margin, y, sample_weight=w)
            self.x_ = np.asarray(iso.X_thresholds_, dtype=np.float64)
            self.y_ = np.asarray(iso.y_thresholds_, dtype=np.float64)
        else:
            self.coef_ = _platt(margin, y, w)
        return self

    def predict(self, margin: np.ndarray) -> np.ndarray:
        """Calibrated probabilities, clipped away from exactly 0 and 1."""
        margin = np.asarray(margin, dtype=np.float64)
        if self.method == "isotonic":
            # A vanishing tie-breaker keeps the booster's ranking inside flat isotonic steps, so
            # calibration does not throw ranking power away (it moves probabilities by < 1e-6).
            tie_break = _TIE_BREAK * (1.0 / (1.0 + np.exp(-margin)) - 0.5)
            proba = np.interp(margin, self.x_, self.y_) + tie_break
        else:
            a, b = self.coef_
            proba = 1.0 / (1.0 + np.exp(-(a * margin + b)))
        return np.asarray(np.clip(proba, _EPS, 1.0 - _EPS), dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        """The fitted mapping as JSON-ready data."""
        if self.method == "isotonic":
            return {"method": "isotonic", "x": self.x_.tolist(), "y": self.y_.tolist()}
        return {"method": "sigmoid", "coef": list(self.coef_)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibrator:
        """Rebuild a fitted calibrator from ``to_dict`` output."""
        cal = cls(method=data["method"])
        if cal.method == "isotonic":
            cal.x_ = np.asarray(data["x"], dtype=np.float64)
            cal.y_ = np.asarray(data["y"], dtype=np.float64)
        else:
            cal.coef_ = (float(data["coef"][0]), float(data["coef"][1]))
        return cal


def _platt(margin: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    """Fit p = sigmoid(a * margin + b) by minimising the (weighted) log loss."""

    def loss(params: np.ndarray) -> float:
        z = params[0] * margin + params[1]
        return float(np.average(np.logaddexp(0.0, z) - y * z, weights=w))

    result = minimize(loss, x0=np.array([1.0, 0.0]), method="L-BFGS-B")
    return float(result.x[0]), float(result.x[1])
