"""Minimising a smooth function of a few parameters (the profiled REML criterion of
`stats.variance`): a Newton step from finite-difference derivatives, then BFGS updates."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def _derivatives(function: Callable[[np.ndarray], float], theta: np.ndarray,
                 step: float = 1e-4) -> tuple[float, np.ndarray, np.ndarray]:
    """Value, gradient and Hessian by central differences."""
    size = theta.size
    centre = function(theta)
    unit = np.eye(size) * step
    up = np.array([function(theta + unit[i]) for i in range(size)])
    down = np.array([function(theta - unit[i]) for i in range(size)])
    gradient = (up - down) / (2 * step)
    hessian = np.diag((up - 2 * centre + down) / step**2)
    for i in range(size):
        for j in range(i):
            hessian[i, j] = hessian[j, i] = (
                function(theta + unit[i] + unit[j]) - function(theta + unit[i] - unit[j])
                - function(theta - unit[i] + unit[j]) + function(theta - unit[i] - unit[j])
            ) / (4 * step**2)
    return centre, gradient, hessian


def _gradient(function: Callable[[np.ndarray], float], theta: np.ndarray,
              step: float = 1e-5) -> np.ndarray:
    unit = np.eye(theta.size) * step
    return np.array([(function(theta + u) - function(theta - u)) / (2 * step) for u in unit])


def newton_minimize(function: Callable[[np.ndarray], float], theta: np.ndarray,
            iterations: int = 100) -> np.ndarray:
    """Minimise a smooth function of theta: a Newton step from a finite-difference Hessian
    (eigenvalues floored to keep a descent direction), then BFGS updates of that Hessian,
    each step with a backtracking line search. The REML criterion depends on theta only
    through theta^2, so it is even in each theta_j: no bounds are needed (a component at 0 is
    a stationary point) and |theta| is the estimate."""
    value, gradient, hessian = _derivatives(function, theta)
    eigenvalues, vectors = np.linalg.eigh(hessian)
    floor = max(1e-8, 1e-6 * np.abs(eigenvalues).max(initial=0.0))
    hessian = (vectors * np.maximum(np.abs(eigenvalues), floor)) @ vectors.T
    for _ in range(iterations):
        step = -np.linalg.solve(hessian, gradient)
        if gradient @ step >= 0:  # not a descent direction: restart from the gradient
            hessian = np.eye(theta.size) * max(floor, np.abs(gradient).max())
            step = -gradient / hessian[0, 0]
        size = 1.0
        while size > 1e-12:
            candidate = theta + size * step
            found = function(candidate)
            if found <= value:
                break
            size /= 2
        else:
            return theta
        moved = np.abs(candidate - theta).max()
        change = value - found
        new_gradient = _gradient(function, candidate)
        s, y = candidate - theta, new_gradient - gradient
        if s @ y > 1e-16:
            bs = hessian @ s
            hessian = hessian - np.outer(bs, bs) / (s @ bs) + np.outer(y, y) / (s @ y)
        theta, value, gradient = candidate, found, new_gradient
        if moved < 1e-9 or (change < 1e-13 * max(1.0, abs(value))
                            and np.abs(gradient).max() < 1e-6):
            return theta
    return theta
