"""The "how to read this report" box: what deletion, insertion and the reference maps mean, and one curve.

The picture is this report's own first method's mean deletion curve against
the random map's, with the area under each shaded: the number the report
calls deletion AUC is that area.  The method is the first in report order, not
the best one, so the picture illustrates the metric without selling a method.
"""

from __future__ import annotations

import matplotlib
import numpy as np

from reportgen.report.figures import CURVE_COLOURS, PLOT_STYLE, REFERENCE_COLOUR, _figure, _unit_axes, svg_data_uri
from reportgen.schema import ReportDocument

GUIDE_SIZE_MM = (70.0, 58.0)

#: How the guide names each substrate a pixel is replaced by (reportgen.metrics.faithfulness).
SUBSTRATE_PHRASES = {"blur": "a blurred copy of the patch", "mean": "the data set's mean colour",
                     "black": "black", "white": "white"}


def reading_guide(document: ReportDocument) -> list[tuple[str, str]]:
    """(term, three sentences) for deletion, insertion and the reference maps, naming this run's substrates."""
    substrates = document.settings.substrates
    deletion = SUBSTRATE_PHRASES.get(substrates.get("deletion"), str(substrates.get("deletion", "a substrate")))
    insertion = SUBSTRATE_PHRASES.get(substrates.get("insertion"), str(substrates.get("insertion", "a substrate")))
    return [
        ("Deletion",
         f"Pixels are replaced by {deletion} in the order a map ranks them, most important first, and the model's "
         "probability for the class it predicted is recorded after each step. If the map found what the model relies "
         "on, the probability falls early and the area under the curve (deletion AUC) is small. Lower is better."),
        ("Insertion",
         f"The same order, built up the other way: pixels are restored onto {insertion}, most important first. A map "
         "that found the evidence brings the probability back early, so the area under the curve (insertion AUC) is "
         "large. Higher is better."),
        ("Reference maps",
         "A seeded random map, a centre prior and a Sobel edge map are scored the same way; none of them looks at the "
         "model. A method's score means something only where the verdict rule finds it better than these. A method "
         "no better than a map that ignores the model is reported as such, on page one."),
    ]


def guide_figure(method_curve: list[float], random_curve: list[float], *, method_title: str):
    """One method's mean deletion curve against the random map's, each with its area shaded.

    Parameters
    ----------
    method_curve, random_curve : mean deletion curves, steps + 1 probabilities at evenly spaced fractions in [0, 1].
    method_title : the method's display title for the legend.
    """
    with matplotlib.rc_context(PLOT_STYLE):
        figure = _figure(GUIDE_SIZE_MM)
        axes = figure.add_subplot()
        for curve, colour, label, dashes in ((random_curve, REFERENCE_COLOUR, "random map", "--"),
                                             (method_curve, CURVE_COLOURS[0], method_title, "-")):
            values = np.asarray(curve, dtype=np.float64)
            fractions = np.linspace(0.0, 1.0, len(values))
            # No AUC in the legend: these are means over all explained patches, the report's AUCs are
            # means over the informative ones, and two different numbers would confuse more than explain.
            axes.fill_between(fractions, values, color=colour, alpha=0.15, linewidth=0)
            axes.plot(fractions, values, color=colour, linestyle=dashes, linewidth=1.4, label=label, clip_on=False)
        _unit_axes(axes)
        axes.set(xlabel="fraction of pixels deleted", ylabel="probability of the class")
        figure.legend(loc="outside lower center", ncols=1)
    return figure


def guide_uri(document: ReportDocument) -> str | None:
    """The guide's picture for ``document``, or None when it has no method and random deletion curves."""
    methods = [(record.title or name, record.curves.deletion_mean) for name, record in document.methods.items()]
    random = document.baselines.get("random")
    random_curve = None if random is None else random.curves.deletion_mean
    methods = [(title, curve) for title, curve in methods if curve]
    if not methods or not random_curve:
        return None
    title, curve = methods[0]
    return svg_data_uri(guide_figure(curve, random_curve, method_title=str(title)))
