"""Generalizability theory: the reliability of a session score averaged over clips and coders
(D-study of the design (c:s) x r, clips nested in sessions, crossed with coders).

Source: Brennan, R. L. (2001). Generalizability Theory. New York: Springer (the G and Phi
coefficients of a D-study, and the harmonic mean of unequal sample sizes in unbalanced
designs). The variance components come from `stats.variance.fit_sessions`.
"""

from __future__ import annotations

import numpy as np


def harmonic_mean(counts: np.ndarray) -> float:
    """The harmonic mean of unequal numbers (clips per session, coders per clip), the sample
    size that stands for them in a D-study of an unbalanced design (Brennan 2001):

        n~ = m / sum_i (1 / n_i)      over the m counts n_i > 0

    >>> harmonic_mean(np.array([1, 2, 4]))
    1.7142857142857142
    >>> harmonic_mean(np.array([3, 3, 3]))
    3.0
    """
    counts = np.asarray(counts, dtype=float)
    return float(counts.size / (1.0 / counts).sum())


def g_coefficients(components: dict[str, float], n: float, k: float) -> tuple[float, float]:
    """Relative G and absolute Phi of a session score averaged over n clips, each rated by
    k coders, in the design (c:s) x r (Brennan 2001), from the variance components session
    (s), clip_in_session (c:s), coder (r), session_x_coder (sr) and residual (e):

        G   = s / (s + c:s / n + sr / k + e / (n k))
        Phi = s / (s + c:s / n + r / k + sr / k + e / (n k))

    >>> components = {"session": 0.5, "clip_in_session": 0.8, "coder": 0.1,
    ...               "session_x_coder": 0.05, "residual": 0.6}
    >>> g, phi = g_coefficients(components, n=4, k=1)
    >>> round(g, 4), round(phi, 4)
    (0.5556, 0.5)
    """
    s, cs = components["session"], components["clip_in_session"]
    r, sr, e = components["coder"], components["session_x_coder"], components["residual"]
    relative = cs / n + sr / k + e / (n * k)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(s / (s + relative)), float(s / (s + relative + r / k))


def clips_needed(components: dict[str, float], k: float, g_min: float,
                 most: int = 200) -> int | None:
    """The smallest number of clips per session n (1 to `most`) whose session score, each
    clip rated by k coders, reaches G >= g_min (see `g_coefficients`); None when none does.

    >>> components = {"session": 0.5, "clip_in_session": 0.8, "coder": 0.1,
    ...               "session_x_coder": 0.05, "residual": 0.6}
    >>> clips_needed(components, k=1, g_min=0.8), clips_needed(components, k=2, g_min=0.8)
    (19, 11)
    """
    return next((n for n in range(1, most + 1)
                 if g_coefficients(components, n, k)[0] >= g_min), None)
