"""Paired tests for per-question numbers that are not rankings (answer quality), with scipy.

Two answer-quality runs over the same questions are compared question by
question, as ranx compares rankings: a right/wrong outcome (answer found, not
found) with McNemar's exact test, which looks only at the questions whose
outcome changed; a number per question (citation precision, unsupported
share, seconds) with the paired t-test. Too few pairs, or no change at all,
is no evidence of a difference: p = 1.
"""

from __future__ import annotations

import math
from typing import Sequence

from scipy.stats import binomtest, ttest_rel


def mcnemar_exact(a: Sequence[bool], b: Sequence[bool]) -> float:
    """Two-sided p of McNemar's exact test on paired right/wrong outcomes."""
    if len(a) != len(b):
        raise ValueError("paired outcomes need one value per question on both sides")
    only_a = sum(1 for x, y in zip(a, b) if x and not y)
    only_b = sum(1 for x, y in zip(a, b) if y and not x)
    if only_a + only_b == 0:
        return 1.0
    return float(binomtest(min(only_a, only_b), only_a + only_b, 0.5).pvalue)


def paired_t(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided p of the paired t-test; 1.0 when there are fewer than two pairs or no difference."""
    if len(a) != len(b):
        raise ValueError("paired values need one value per question on both sides")
    if len(a) < 2:
        return 1.0
    p = float(ttest_rel(list(a), list(b)).pvalue)
    return 1.0 if math.isnan(p) else p
