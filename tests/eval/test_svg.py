"""The server-drawn chart: one series per mode, values from the caller, names escaped, no script or style."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from eval.svg import distribution, latency_edges, line_chart, recall_curves


def test_recall_curves_become_an_escaped_svg_with_a_point_per_k():
    curves = recall_curves({"dense": {"recall@1": 0.5, "recall@10": 0.9, "ndcg@10": 0.7},
                            "<script>alert(1)</script>": {"recall@1": 0.25, "recall@10": 1.0}})
    assert curves["dense"] == {1: 0.5, 10: 0.9}, "only recall@k, keyed by k"
    svg = line_chart(curves, "recall@k & more")
    root = ET.fromstring(svg)  # well-formed XML: names and the title were escaped
    ns = "{http://www.w3.org/2000/svg}"
    assert len(root.findall(f".//{ns}polyline")) == 2 and len(root.findall(f".//{ns}circle")) == 4
    assert "<script" not in svg and "style=" not in svg
    titles = [t.text for t in root.iter(f"{ns}title")]
    assert "dense recall@10 = 0.9000" in titles and "recall@k & more" in titles


def test_a_distribution_is_the_share_of_values_per_bin_and_the_last_bin_takes_the_rest():
    shares = distribution([0.0, 0.05, 0.1, 0.55, 1.0, 1.0], [0.0, 0.1, 0.5, 0.9])
    assert shares == {0.0: round(2 / 6, 4), 0.1: round(1 / 6, 4), 0.5: round(1 / 6, 4), 0.9: round(2 / 6, 4)}
    assert abs(sum(shares.values()) - 1) < 1e-3
    assert distribution([], [0.0, 1.0]) == {}


def test_latency_bins_reach_the_99th_percentile_so_one_slow_query_does_not_squash_the_rest():
    values = [10.0 + i % 7 for i in range(200)] + [5000.0]
    edges = latency_edges(values)
    assert len(edges) == 10 and edges[0] == 0 and edges[-1] < 100
    assert distribution(values, edges)[edges[-1]] > 0  # the outlier is counted, in the last bin
