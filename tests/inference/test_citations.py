"""Citation markers: every way models write them, and the ones that must be dropped."""

from __future__ import annotations

import pytest

from inference.citations import marker_numbers, parse_citations, split_sentences


def test_single_markers_attach_to_their_sentence():
    parsed = parse_citations("Employees get 25 days of leave [1]. Contractors get none [2].", 2)
    assert [s.cited for s in parsed.sentences] == [[1], [2]]
    assert parsed.sentences[0].text == "Employees get 25 days of leave."
    assert parsed.cited == [1, 2]


@pytest.mark.parametrize(
    "answer, expected",
    [
        ("Leave is 25 days [1, 3].", [1, 3]),
        ("Leave is 25 days [1;3].", [1, 3]),
        ("Leave is 25 days [1][2].", [1, 2]),
        ("Leave is 25 days [1] [2].", [1, 2]),
        ("Leave is 25 days [2-4].", [2, 3, 4]),
        ("Leave is 25 days. [3]", [3]),
        ("Leave is 25 days [ 2 ].", [2]),
    ],
)
def test_marker_styles(answer, expected):
    parsed = parse_citations(answer, 5)
    assert len(parsed.sentences) == 1
    assert parsed.sentences[0].cited == expected
    assert parsed.sentences[0].text == "Leave is 25 days."


def test_markers_pointing_nowhere_are_dropped_from_text_and_citations():
    parsed = parse_citations("Leave is 25 days [7]. Badges are blue [0][2]. Parking is free [2, 9].", 3)
    assert "[7]" not in parsed.text and "[0]" not in parsed.text and "9" not in parsed.text
    assert parsed.text == "Leave is 25 days. Badges are blue [2]. Parking is free [2]."
    assert [s.cited for s in parsed.sentences] == [[], [2], [2]]
    assert sorted(parsed.dropped_markers) == [0, 7, 9]


def test_markers_after_the_full_stop_belong_to_the_sentence_before():
    parsed = parse_citations("The VPN uses WireGuard. [2] It needs MFA. [1][3]", 3)
    assert [(s.text, s.cited) for s in parsed.sentences] == [
        ("The VPN uses WireGuard.", [2]), ("It needs MFA.", [1, 3])
    ]


def test_a_line_of_markers_only_cites_the_sentence_before():
    parsed = parse_citations("Expenses over 5000 NOK need CFO approval.\n[2]", 2)
    assert [(s.text, s.cited) for s in parsed.sentences] == [("Expenses over 5000 NOK need CFO approval.", [2])]


def test_repeated_markers_are_cited_once():
    parsed = parse_citations("Leave is 25 days [1][1, 1].", 1)
    assert parsed.sentences[0].cited == [1]
    assert parsed.text == "Leave is 25 days [1]."


def test_unmarked_sentences_have_no_citations_and_bullets_split():
    parsed = parse_citations("- First point\n- Second point [1]", 1)
    assert [(s.text, s.cited) for s in parsed.sentences] == [("- First point", []), ("- Second point", [1])]


def test_ranges_are_capped_so_a_typo_cannot_cite_everything():
    assert marker_numbers("1-1000") == list(range(1, 21))
    assert marker_numbers("3, 1") == [3, 1]


def test_sentence_splitting_keeps_decimals_together():
    assert split_sentences("Version 4.7 ships today. It fixes 3.5 bugs.") == [
        "Version 4.7 ships today.", "It fixes 3.5 bugs."
    ]
