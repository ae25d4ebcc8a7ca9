"""Variance components of crossed random-effects models by REML, with sparse linear algebra.

Model: y = mu + sum_j Z_j u_j + e, u_j ~ N(0, s_j I), e ~ N(0, s_e I); one Z_j per factor
(clip, coder, session, ...), each observation in one level of every factor. As in lme4
(Bates, Maechler, Bolker & Walker 2015, "Fitting linear mixed-effects models using lme4",
J. Stat. Softw. 67(1), eqs. 34-42) the residual variance is profiled out and the criterion
is minimised over relative standard deviations theta_j = sqrt(s_j / s_e) >= 0:

    H = I + Z T^2 Z',  T = diag(theta_j per column),  C = T Z'Z T + I  (so log|H| = log|C|)
    with M = [1, y]:  G = M'M - (Z'M)' T C^-1 T (Z'M)  (= M' H^-1 M)
    Q = G_yy - G_1y^2 / G_11,   s_e = Q / (N - 1)
    REML deviance = log|C| + log G_11 + (N - 1) (1 + log(2 pi Q / (N - 1)))

`fit_two_way` (rating = mu + clip + coder + e) uses that every rating belongs to one clip:
C's clip block is diagonal, and with the few coders taken by the Woodbury identity each
evaluation is O(clips x coders^2), no factorisation. `fit_sessions` (the G-study model
(c:s) x r) adds per-session blocks of session and session x coder effects, solved in a batch.

Intervals for functions of the components (ICCs, G coefficients) come from the estimates'
asymptotic normal distribution on the log scale (inverse Hessian of the REML likelihood by
central differences) by Monte Carlo draws; components estimated at 0 are held at 0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sparse

from coding_pipeline.stats import UndefinedStatistic
from coding_pipeline.stats.minimize import newton_minimize

LOG_2PI = float(np.log(2 * np.pi))
BOUNDARY = 1e-6  # a component below this share of the total variance is at its bound, 0


@dataclass(frozen=True)
class VarianceFit:
    """REML estimates of the variance components (the last one is the residual)."""

    components: dict[str, float]
    mean: float
    n_obs: int
    levels: dict[str, int]
    deviance: float  # the REML criterion, -2 log restricted likelihood (lme4's REMLcrit)
    theta: tuple[float, ...] = ()  # the relative standard deviations, a start for a similar fit
    log_variance_cov: np.ndarray | None = field(default=None, repr=False)  # free components
    free: tuple[str, ...] = ()  # the components with log-variance covariance (not at 0)

    def draws(self, number: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Monte Carlo draws of every component from the estimates' asymptotic normal
        distribution on the log scale (components at 0 stay 0)."""
        if self.log_variance_cov is None:
            raise UndefinedStatistic("the REML information matrix is not positive definite")
        centre = np.log([self.components[name] for name in self.free])
        sampled = np.exp(rng.multivariate_normal(centre, self.log_variance_cov, number,
                                                 method="cholesky"))
        result = {name: np.zeros(number) for name in self.components}
        for column, name in enumerate(self.free):
            result[name] = sampled[:, column]
        return result


class _Criterion:
    """The profiled REML parts (log|C|, G) at theta, for one model and data."""

    def __init__(self, y: np.ndarray, codes: list[np.ndarray]):
        self.y = y
        self.n = y.size
        self.mtm = np.array([[self.n, y.sum()], [y.sum(), y @ y]])

    def parts(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        raise NotImplementedError

    def profiled(self, theta: np.ndarray) -> float:
        """REML deviance with s_e profiled out."""
        logdet, gram = self.parts(theta)
        q = gram[1, 1] - gram[0, 1] ** 2 / gram[0, 0]
        if not (q > 0 and np.isfinite(logdet)):
            return np.inf
        dof = self.n - 1
        return float(logdet + np.log(gram[0, 0]) + dof * (1 + LOG_2PI + np.log(q / dof)))

    def full(self, theta: np.ndarray, residual: float) -> float:
        """REML deviance at relative SDs theta and residual variance `residual`."""
        logdet, gram = self.parts(theta)
        q = gram[1, 1] - gram[0, 1] ** 2 / gram[0, 0]
        dof = self.n - 1
        return float(logdet + np.log(gram[0, 0]) + dof * (LOG_2PI + np.log(residual))
                     + q / residual)

    def estimates(self, theta: np.ndarray) -> tuple[float, float]:
        """(mu, s_e) at theta."""
        _, gram = self.parts(theta)
        q = gram[1, 1] - gram[0, 1] ** 2 / gram[0, 0]
        return float(gram[0, 1] / gram[0, 0]), float(q / (self.n - 1))


class _TwoWay(_Criterion):
    """rating = mu + clip + coder + e; every rating in one clip (diagonal clip block)."""

    def __init__(self, y: np.ndarray, codes: list[np.ndarray]):
        super().__init__(y, codes)
        clips, coders = codes
        n_clips, n_coders = clips.max() + 1, coders.max() + 1
        rows = np.arange(self.n)
        zr = sparse.csr_matrix((np.ones(self.n), (rows, coders)), shape=(self.n, n_coders))
        m = sparse.hstack([np.ones((self.n, 1)), y[:, None], zr]).toarray()
        self.gram0 = m.T @ m
        self.sums = np.zeros((n_clips, m.shape[1]))
        np.add.at(self.sums, clips, m)
        self.sizes = np.bincount(clips).astype(float)

    def parts(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        clip, coder = theta[0] ** 2, theta[1] ** 2
        shrink = clip / (1.0 + self.sizes * clip)
        gram = self.gram0 - (self.sums * shrink[:, None]).T @ self.sums  # M' D^-1 M
        logdet = float(np.log1p(self.sizes * clip).sum())
        inner = np.eye(gram.shape[0] - 2) + coder * gram[2:, 2:]
        sign, coder_logdet = np.linalg.slogdet(inner)
        correction = coder * gram[:2, 2:] @ np.linalg.solve(inner, gram[2:, :2])
        return logdet + coder_logdet, gram[:2, :2] - correction


def _cholesky_solve(matrices: np.ndarray, rhs: np.ndarray) -> tuple[float, np.ndarray]:
    """For a batch of small SPD matrices K_s = L_s L_s' and right-hand sides B_s: the sum of
    log|K_s| and L_s^-1 B_s, by column-wise Cholesky vectorised over the batch (numpy's
    batched solvers pay a LAPACK call per matrix)."""
    size = matrices.shape[1]
    lower = np.zeros_like(matrices)
    solved = np.empty_like(rhs)
    for j in range(size):
        pivot = np.sqrt(matrices[:, j, j] - (lower[:, j, :j] ** 2).sum(axis=1))
        lower[:, j, j] = pivot
        below = matrices[:, j + 1:, j] - np.einsum("sik,sk->si", lower[:, j + 1:, :j],
                                                   lower[:, j, :j])
        lower[:, j + 1:, j] = below / pivot[:, None]
        solved[:, j, :] = (rhs[:, j, :] - np.einsum("sk,skm->sm", lower[:, j, :j],
                                                     solved[:, :j, :])) / pivot[:, None]
    return 2.0 * float(np.log(np.diagonal(lower, axis1=1, axis2=2)).sum()), solved


class _Sessions(_Criterion):
    """G-study (c:s) x r: rating = mu + session + clip:session + coder + session x coder + e.

    The clip block is diagonal (as in `_TwoWay`); the session and session x coder effects
    form one small block per session (1 + coders), taken by the Woodbury identity in a
    batch; the coders last, as in `_TwoWay`. theta = (session, clip, coder, session x coder).
    """

    def __init__(self, y: np.ndarray, codes: list[np.ndarray]):
        super().__init__(y, codes)
        sessions, clips, coders = codes
        n_clips, n_coders = clips.max() + 1, coders.max() + 1
        n_sessions = sessions.max() + 1
        m = np.zeros((self.n, n_coders + 2))
        m[:, 0], m[:, 1] = 1.0, y
        m[np.arange(self.n), 2 + coders] = 1.0
        outer = m[:, :, None] * m[:, None, :]
        self.gram0 = np.zeros((n_sessions, *outer.shape[1:]))
        np.add.at(self.gram0, sessions, outer)
        sums = np.zeros((n_clips, m.shape[1]))
        np.add.at(sums, clips, m)
        self.clip_outer = (sums[:, :, None] * sums[:, None, :]).reshape(n_clips, -1)
        clip_session = np.zeros(n_clips, dtype=int)
        clip_session[clips] = sessions
        self.by_session = sparse.csr_matrix(
            (np.ones(n_clips), (clip_session, np.arange(n_clips))), shape=(n_sessions, n_clips))
        self.sizes = np.bincount(clips).astype(float)
        self.local = np.r_[0, np.arange(2, n_coders + 2)]  # session intercept, session x coder

    def parts(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        session, clip, coder, crossed = theta
        shrink = clip**2 / (1.0 + self.sizes * clip**2)
        size = self.gram0.shape[1]
        gram = self.gram0 - np.asarray(
            self.by_session @ (self.clip_outer * shrink[:, None])).reshape(-1, size, size)
        logdet = float(np.log1p(self.sizes * clip**2).sum())
        scale = np.r_[session, np.full(self.local.size - 1, crossed)]
        local = gram[:, self.local][:, :, self.local] * np.outer(scale, scale)
        cross = gram[:, self.local, :] * scale[None, :, None]
        block_logdet, whitened = _cholesky_solve(local + np.eye(self.local.size), cross)
        logdet += block_logdet
        gram = gram.sum(axis=0) - np.einsum("sia,sib->ab", whitened, whitened)
        inner = np.eye(size - 2) + coder**2 * gram[2:, 2:]
        _, coder_logdet = np.linalg.slogdet(inner)
        correction = coder**2 * gram[:2, 2:] @ np.linalg.solve(inner, gram[2:, :2])
        return logdet + coder_logdet, gram[:2, :2] - correction


def _codes(labels: np.ndarray) -> np.ndarray:
    return np.unique(np.asarray(labels), return_inverse=True)[1].ravel()


def _fit(criterion: _Criterion, names: list[str], levels: dict[str, int],
         start: tuple[float, ...] = ()) -> VarianceFit:
    """Minimise the profiled REML deviance over theta (from `start`, e.g. the theta of a
    similar variable, else theta = 1) and collect the components."""
    first = np.array(start, dtype=float) if len(start) == len(names) else np.ones(len(names))
    try:
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            theta = np.abs(newton_minimize(criterion.profiled, np.maximum(first, 0.05)))
    except np.linalg.LinAlgError:
        theta = np.full(len(names), np.nan)
    if not np.isfinite(theta).all() or not np.isfinite(criterion.profiled(theta)):
        raise UndefinedStatistic("the REML estimation did not converge on these data")
    theta = np.where(theta < 1e-7, 0.0, theta)
    mean, residual = criterion.estimates(theta)
    components = {name: float(residual * t**2) for name, t in zip(names, theta, strict=True)}
    components["residual"] = residual
    total = sum(components.values())
    for name in names:
        if components[name] < BOUNDARY * total:
            components[name] = 0.0
    free = tuple(name for name, value in components.items() if value > 0)
    covariance = _log_variance_covariance(criterion, names, components, free)
    return VarianceFit(components=components, mean=mean, n_obs=criterion.n, levels=levels,
                       deviance=criterion.profiled(theta), log_variance_cov=covariance,
                       free=free, theta=tuple(float(t) for t in theta))


def _check_values(values: np.ndarray) -> np.ndarray:
    y = np.asarray(values, dtype=float)
    if y.size < 3:
        raise UndefinedStatistic("fewer than three ratings")
    if np.ptp(y) == 0:
        raise UndefinedStatistic("all ratings are the same value (no variation)")
    return y


def _log_variance_covariance(criterion: _Criterion, names: list[str],
                             components: dict[str, float], free: tuple[str, ...],
                             step: float = 1e-3) -> np.ndarray | None:
    """Inverse Hessian of -log L_REML in the free log-variances (central differences)."""
    if "residual" not in free:
        return None
    centre = np.log([components[name] for name in free])
    position = {name: number for number, name in enumerate(free)}

    def negative_log_likelihood(log_variances: np.ndarray) -> float:
        residual = np.exp(log_variances[position["residual"]])
        theta = np.array([np.sqrt(np.exp(log_variances[position[n]]) / residual)
                          if n in position else 0.0 for n in names])
        return 0.5 * criterion.full(theta, residual)

    size = centre.size
    hessian = np.empty((size, size))
    f0 = negative_log_likelihood(centre)
    unit = np.eye(size) * step
    for i in range(size):
        up, down = negative_log_likelihood(centre + unit[i]), negative_log_likelihood(
            centre - unit[i])
        hessian[i, i] = (up - 2 * f0 + down) / step**2
        for j in range(i):
            value = (negative_log_likelihood(centre + unit[i] + unit[j])
                     - negative_log_likelihood(centre + unit[i] - unit[j])
                     - negative_log_likelihood(centre - unit[i] + unit[j])
                     + negative_log_likelihood(centre - unit[i] - unit[j])) / (4 * step**2)
            hessian[i, j] = hessian[j, i] = value
    try:
        np.linalg.cholesky(hessian)
    except np.linalg.LinAlgError:
        return None
    return np.linalg.inv(hessian)


def fit_two_way(values: np.ndarray, clips: np.ndarray, coders: np.ndarray,
                start: tuple[float, ...] = ()) -> VarianceFit:
    """REML of rating = mu + clip + coder + e (components clip, coder, residual), from one
    row per rating; crossed or not, complete or not. `start`: theta to start from."""
    clip_codes, coder_codes = _codes(clips), _codes(coders)
    if clip_codes.max(initial=-1) < 1:
        raise UndefinedStatistic("fewer than two clips rated by two or more coders")
    if coder_codes.max() < 1:
        raise UndefinedStatistic("fewer than two coders")
    y = _check_values(values)
    criterion = _TwoWay(y, [clip_codes, coder_codes])
    return _fit(criterion, ["clip", "coder"], {"clip": int(clip_codes.max()) + 1,
                                               "coder": int(coder_codes.max()) + 1}, start)


def fit_sessions(values: np.ndarray, sessions: np.ndarray, clips: np.ndarray,
                 coders: np.ndarray, start: tuple[float, ...] = ()) -> VarianceFit:
    """REML of the G-study model (c:s) x r from one row per rating of every rated clip:
    components session, clip_in_session, coder, session_x_coder, residual. `start`: theta
    to start from."""
    session_codes, clip_codes, coder_codes = _codes(sessions), _codes(clips), _codes(coders)
    if session_codes.max(initial=-1) < 1:
        raise UndefinedStatistic("fewer than two sessions with rated clips")
    if coder_codes.max() < 1:
        raise UndefinedStatistic("fewer than two coders")
    if np.unique(np.c_[clip_codes, session_codes], axis=0).shape[0] != clip_codes.max() + 1:
        raise ValueError("a clip belongs to more than one session")
    y = _check_values(values)
    criterion = _Sessions(y, [session_codes, clip_codes, coder_codes])
    levels = {"session": int(session_codes.max()) + 1,
              "clip_in_session": int(clip_codes.max()) + 1,
              "coder": int(coder_codes.max()) + 1}
    return _fit(criterion, ["session", "clip_in_session", "coder", "session_x_coder"], levels,
                start)


def monte_carlo_intervals(
    fit: VarianceFit, statistics: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]],
    rng: np.random.Generator, draws: int = 10_000, confidence: float = 0.95,
) -> dict[str, tuple[float, float]]:
    """Percentile intervals of functions of the variance components (ICCs, G coefficients),
    all from one set of Monte Carlo draws of the fit:

        log s_b ~ N(log s_hat, H^-1),  b = 1..draws   (H: REML information of log s_hat)
        CI(f) = [q_(a/2), q_(1 - a/2)] of f(s_b) over the draws where f is finite

    with components estimated at 0 held at 0 (`VarianceFit.draws`). `statistics` maps the
    drawn components to named arrays; each name gets its interval.

    Sources: Preacher, K. J. & Selig, J. P. (2012). Advantages of Monte Carlo confidence
    intervals for indirect effects. Communication Methods and Measures, 6(2), 77-98 (the
    method); ten Hove, Jorgensen & van der Ark (2025). How to estimate intraclass correlation
    coefficients for interrater reliability from planned incomplete data. Multivariate
    Behavioral Research (Monte Carlo intervals of ICCs from ML random-effects estimates).

    >>> from coding_pipeline.stats.icc import variance_icc_forms
    >>> rng = np.random.default_rng(0)
    >>> clips, coders = np.repeat(np.arange(40), 3), np.tile(np.arange(3), 40)
    >>> values = (rng.normal(size=40)[clips] + np.array([0.0, 0.3, -0.2])[coders]
    ...           + rng.normal(scale=0.5, size=120))
    >>> fit = fit_two_way(values, clips, coders)
    >>> found = monte_carlo_intervals(fit, lambda drawn: variance_icc_forms(drawn, 1),
    ...                               np.random.default_rng(1))
    >>> low, high = found["ICC(A,1)"]
    >>> print(f"ICC(A,1) {variance_icc_forms(fit.components, 1)['ICC(A,1)']:.2f} "
    ...       f"[{low:.2f}, {high:.2f}]")
    ICC(A,1) 0.60 [0.27, 0.76]
    """
    tail = round(50 * (1 - confidence), 10)
    intervals = {}
    for name, values in statistics(fit.draws(draws, rng)).items():
        values = np.asarray(values, dtype=float)
        low, high = np.percentile(values[np.isfinite(values)], [tail, 100 - tail])
        intervals[name] = (float(low), float(high))
    return intervals
