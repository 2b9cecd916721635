"""The confusion matrix and agreement heatmaps: vector cells, every value written, no signed zero."""

import base64
from xml.etree import ElementTree

from reportgen.report.heatmaps import agreement_uri, confusion_uri

SVG = "{http://www.w3.org/2000/svg}"


def _svg(uri: str) -> ElementTree.Element:
    assert uri.startswith("data:image/svg+xml;base64,")
    return ElementTree.fromstring(base64.b64decode(uri.split(",", 1)[1]))


def _texts(root: ElementTree.Element) -> list[str]:
    # matplotlib writes SVG text as text elements (svg.fonttype "none" in the report's plot style)
    return ["".join(element.itertext()).strip() for element in root.iter(f"{SVG}text")]


def test_agreement_heatmap_writes_every_value_without_a_signed_zero():
    values = [[1.0, -0.0004, 0.25], [-0.0004, 1.0, -0.61], [0.25, -0.61, 1.0]]
    root = _svg(agreement_uri(values, ["IG", "Grad-CAM", "LIME"], signed=True))
    texts = _texts(root)
    assert texts.count("1.00") == 3 and texts.count("0.25") == 2 and texts.count("-0.61") == 2
    assert texts.count("0.00") == 2 and "-0.00" not in texts
    assert {"IG", "Grad-CAM", "LIME"} <= set(texts)
    assert root.find(f".//{SVG}image") is None, "cells must be vector shapes, not an embedded raster"


def test_confusion_figure_shows_counts_and_row_shares():
    texts = " ".join(_texts(_svg(confusion_uri([[44, 6], [8, 42]]))))
    for expected in ("44", "88.0 %", "6", "12.0 %", "8", "16.0 %", "42", "84.0 %", "predicted", "true"):
        assert expected in texts, expected
