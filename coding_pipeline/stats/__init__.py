"""Reliability statistics: pure numpy/scipy, no file or table I/O.

- `alpha`: Krippendorff's alpha (nominal, ordinal, interval, ratio) and a bootstrap over units.
- `icc`: intraclass correlations (McGraw & Wong 1996; Shrout & Fleiss 1979) with F-based intervals.
- `agreement`: exact and within-one-point agreement over coder pairs.
- `gwet`: Gwet's AC2 and linear/quadratic weighted kappa with standard errors.
- `variance`: REML variance components (two-way clip x coder; G-study (c:s) x r) and Monte
  Carlo intervals of functions of them (`minimize`: the optimiser behind the REML fits).
- `generalizability`: G and Phi of session scores (D-study), the harmonic mean of unequal
  numbers.
- `bias`: each coder's mean difference from the other coders.

Each statistic's docstring gives its formula, its source and a short example that runs as a
doctest (tests/stats/test_doctests.py).

Data come as a units x coders float array with NaN for a missing rating (rows are clips).
A statistic that the data cannot define raises `UndefinedStatistic` with the reason.
"""


class UndefinedStatistic(ValueError):
    """The data do not define the statistic (too few units, no variation, no pairs).

    `str(error)` is the reason, in words a report can show.
    """
