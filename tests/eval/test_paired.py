"""The paired tests answer-quality comparisons use, against values worked out by hand and by scipy."""

from __future__ import annotations

import pytest
from scipy.stats import ttest_rel

from eval.paired import mcnemar_exact, paired_t


def test_mcnemar_counts_only_the_questions_whose_outcome_changed():
    # seven questions right before and wrong after, none the other way: p = 2 * 0.5**7
    before = [True] * 7 + [True, False, False]
    after = [False] * 7 + [True, False, False]
    assert mcnemar_exact(before, after) == pytest.approx(2 * 0.5 ** 7)
    assert mcnemar_exact(before, before) == 1.0, "no change is no evidence"
    assert mcnemar_exact([True, False], [False, True]) == 1.0, "one each way is a draw"


def test_paired_t_is_scipys_and_says_one_when_it_cannot_tell():
    a, b = [0.2, 0.5, 0.4, 0.9, 0.3], [0.4, 0.6, 0.7, 0.9, 0.5]
    assert paired_t(a, b) == pytest.approx(ttest_rel(a, b).pvalue)
    assert paired_t([0.5], [0.9]) == 1.0 and paired_t(a, a) == 1.0


def test_unpaired_lengths_are_refused():
    with pytest.raises(ValueError):
        mcnemar_exact([True], [True, False])
    with pytest.raises(ValueError):
        paired_t([1.0], [1.0, 2.0])
