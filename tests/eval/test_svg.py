"""The server-drawn chart: one series per mode, values from the caller, names escaped, no script or style."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from eval.svg import line_chart, recall_curves


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
