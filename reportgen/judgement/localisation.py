"""The localisation section's judgement: does each method put at least a uniform map's share in the centre?

PCam's label is decided by the centre 32x32 of a 96x96 patch; a uniform map puts
:data:`UNIFORM_CENTRE_MASS` of its attribution there (docs/metrics.md#localisation).  The mean share over the
explained patches is decided by its 95 % interval (:mod:`reportgen.judgement.rule`).
"""

from __future__ import annotations

from reportgen.data.label_region import CENTRE, applies
from reportgen.formatting import fmt_interval
from reportgen.judgement.check import Check, Finding, interval_check
from reportgen.judgement.reading import explained_units, method_title, more_images
from reportgen.judgement.rule import FAIL
from reportgen.metrics.localisation import UNIFORM_CENTRE_MASS
from reportgen.schema import Interval, ReportDocument


def _centres(document: ReportDocument) -> list[tuple[str, Interval]]:
    """(method, its centre-mass record) for every method with a centre mass (none where the report has no
    localisation section)."""
    return [(name, record.centre_mass) for name, record in (document.localisation or {}).items()
            if name in document.methods and record.centre_mass.mean is not None]


def checks(document: ReportDocument) -> list[Check]:
    """Per method: mean centre share at least a uniform map's, by its interval; none where the data declare no
    label region (:mod:`reportgen.data.label_region`)."""
    if not applies(document.data.label_region):
        return []
    found = []
    for name, centre in _centres(document):
        units, noun = explained_units(document, centre)
        found.append(interval_check(
            f"{method_title(document, name)}: attribution in the centre 32x32",
            f"mean share at least a uniform map's ({UNIFORM_CENTRE_MASS:.3f})",
            f"{fmt_interval(centre, 3)} on {units} {noun}", "localisation", value=centre.mean,
            interval=centre.ci95, limit=UNIFORM_CENTRE_MASS, direction="at_least", units=units,
            more=more_images(document, units), gate="centre_mass", method=name, column="centre"))
    return found


#: What page one says where the data declare no label region.
NOT_APPLIED = ("Not applied: the right-for-the-right-reason test and the centre-attribution checks, because the data "
               "declare no region that decides the label (PCam's label is the centre 32x32 of its 96x96 patches); for "
               f"96x96 patches labelled that way, state label_region = \"{CENTRE}\" in the configuration.")


def findings(document: ReportDocument) -> list[Finding]:
    """A method that puts less attribution on the centre than a uniform map (medium), read from its check; where
    the data declare no label region, that the checks built on it did not apply (low)."""
    if not applies(document.data.label_region):
        return [Finding("low", NOT_APPLIED)]
    return [Finding("medium", f"{method_title(document, check.method)} puts less attribution on the centre 32x32 "
                              f"region than a uniform map would ({check.measured}, below {check.limit:.3f}): it "
                              "looks at the border, not where the label is decided.", check.method)
            for check in checks(document) if check.outcome == FAIL]
