"""The "Explained patches" section's views: which patches the gallery shows and in what order (errors first),
its legend and filters, and one panel per patch with each method's map over it and its scores, from the
document's ``images`` and the per-patch figures (:func:`reportgen.report.figures.patch_figures`)."""

from __future__ import annotations

from dataclasses import dataclass

from reportgen.data.label_region import applies
from reportgen.formatting import fmt, fmt_any
from reportgen.judgement.notes import ON_REGION, border_width
from reportgen.judgement.reading import centre_side, method_title, patch_size
from reportgen.metrics.localisation import uniform_centre_share
from reportgen.report import figures as figs
from reportgen.report.labels import patch_facts
from reportgen.schema import ImageRecord, ReportDocument


@dataclass(frozen=True)
class Overlay:
    """One method's map over a patch, with that method's scores on this patch (formatted).

    ``scale`` labels the ends (and, for a signed map, the middle) of the colour bar ``bar_uri``
    under the map: ``["0", "0.0086"]`` or ``["-0.0043", "0", "+0.0043"]``.
    """

    title: str
    uri: str
    alt: str
    deletion: str
    insertion: str
    centre: str
    bar_uri: str = ""
    scale: tuple[str, ...] = ()


@dataclass(frozen=True)
class PatchPanel:
    """Everything shown for one explained patch; ``stratum``, ``slide`` and ``group`` (the heading of its
    stratum's group) serve the gallery's grouping and filters."""

    patch_id: str
    facts: list[tuple[str, str]]
    note: str
    original_uri: str
    original_alt: str
    overlays: list[Overlay]
    stratum: str = ""
    slide: str = ""
    group: str = ""


@dataclass(frozen=True)
class GalleryView:
    """The gallery's legend and filter choices: ``(value, label)`` per stratum and per slide present."""

    legend: list[str]
    sequential_bar_uri: str
    signed_bar_uri: str
    strata: list[tuple[str, str]]
    slides: list[tuple[str, str]]
    #: Which patches the gallery shows (all, or the first --gallery in its order).
    extent: str


#: The gallery shows the model's errors first: false negatives (missed tumour), false positives, then the rest.
GALLERY_ORDER = ("FN", "FP", "TP", "TN")


def _gallery_order(images: list[ImageRecord]) -> list[int]:
    """Positions of the patches in gallery order: by stratum (:data:`GALLERY_ORDER`), then as in the report."""
    rank = {stratum: index for index, stratum in enumerate(GALLERY_ORDER)}
    return sorted(range(len(images)), key=lambda i: (rank.get(images[i].stratum, len(rank)), i))


def gallery_positions(document: ReportDocument) -> list[int]:
    """The patches the gallery shows, in its order: the first ``settings.gallery`` in gallery order (errors first;
    every patch without a limit).  The statistics use every patch, shown or not."""
    images = document.images
    limit = document.settings.gallery
    order = _gallery_order(images)
    return order if limit is None else order[: int(limit)]


def gallery_extent(document: ReportDocument) -> str:
    """The sentence that says which patches the gallery shows."""
    total, shown = len(document.images), len(gallery_positions(document))
    if shown == total:
        return f"All {total} explained patches are shown."
    return (f"The gallery shows {shown} of the {total} explained patches, the first in this order (--gallery "
            f"{shown}); every patch's scores are in report.json and in every table and statistic of this report.")


#: Each stratum's group heading in the gallery.
STRATUM_GROUPS = {"FN": "False negatives: tumour the model missed",
                  "FP": "False positives: tumour called where none is",
                  "TP": "True positives: tumour found", "TN": "True negatives: normal called normal"}


def scale_labels(scale: figs.MapScale) -> tuple[str, ...]:
    """The colour bar's labels: two significant digits, the limit signed on a diverging bar."""
    limit = f"{scale.limit:.2g}"
    return (f"\u2212{limit}", "0", f"+{limit}") if scale.signed else ("0", limit)


def _map_facts(document: ReportDocument, position: int) -> list[tuple[str, str]]:
    """("LIME superpixels", "9")-style facts of patch ``position`` from the methods' per-patch extras."""
    facts = []
    for name, record in document.methods.items():
        for key, label in patch_facts(name).items():
            extra = record.extras.get(key)
            values = (None if extra is None else extra.per_image) or []
            if position < len(values) and values[position] is not None:
                facts.append((f"{method_title(document, name)} {label}", f"{values[position]:g}"))
    return facts


def gallery_view(document: ReportDocument, sequential_uri: str, signed_uri: str) -> GalleryView:
    """The legend (with the colour bars ``sequential_uri`` and ``signed_uri``), the filters and the extent."""
    methods = document.methods
    signed = [method_title(document, n) for n, record in methods.items() if record.signed]
    unsigned = [method_title(document, n) for n, record in methods.items() if not record.signed]
    has_masks = bool(document.data.has_masks)
    centre_decides = applies(document.data.label_region)
    legend = ["Cyan square: the centre 32\u00d732 region; tumour in it decides the label."] if centre_decides else []
    if has_masks and centre_decides:
        legend.append("White outline: the ground-truth tumour mask (tumour-like tissue outside the centre square is "
                      "outlined too; the label ignores it).")
    elif has_masks:
        legend.append("White outline: the ground-truth tumour mask.")
    if unsigned:
        legend.append(f"Sequential colours, dark purple (0) to yellow (the bar's end), for maps that are never "
                      f"negative: {', '.join(unsigned)}. They show how much a pixel counts, not in which direction.")
    if signed:
        legend.append(f"Diverging colours for signed maps: {', '.join(signed)}. Red is evidence for the explained "
                      "class, blue evidence against it, white 0.")
    legend.append(f"Each map has its own scale, in the bar under it: the colours end at the {figs.CLIP_PERCENTILE:g}th "
                  "percentile of that map's |attribution| on that patch (the clip of captum's visualize_image_attr), "
                  "and stronger pixels take the end colour, so a few extreme pixels do not leave the rest in one "
                  "colour. Colours therefore compare places within a map, not maps with each other.")
    side = patch_size(document)
    band = border_width(side, side)
    centre = "centre square" if centre_decides else f"centre {centre_side(document)}\u00d7{centre_side(document)}"
    legend.append(f"In the notes, shares are of a map's positive attribution: a uniform map puts "
                  f"{uniform_centre_share(side):.0%} in the {centre} and {1 - ((side - 2 * band) / side) ** 2:.0%} in the outer {band} px; its share on the mask "
                  f"equals the mask's share of the patch. Evidence \"on\" a region has at least {ON_REGION:g} times "
                  "the region's share.")
    images = document.images
    present = {image.stratum for image in images}
    strata = [(stratum, STRATUM_GROUPS[stratum].split(":")[0]) for stratum in GALLERY_ORDER if stratum in present]
    slides = sorted({str(image.slide_id) for image in images if image.slide_id})
    return GalleryView(legend=legend, sequential_bar_uri=sequential_uri, signed_bar_uri=signed_uri, strata=strata,
                       slides=[(slide, slide) for slide in slides], extent=gallery_extent(document))


def patch_panels(document: ReportDocument, patch_uris: dict[int, dict[str, str]],
                 scales: list[dict[str, figs.MapScale]] | None = None) -> list[PatchPanel]:
    """One panel per patch of :func:`gallery_positions` that has figures in ``patch_uris``, in gallery order;
    ``scales`` (per patch, per method) labels each map's colour bar (``None``: no bars)."""
    methods = list(document.methods)
    images = document.images
    shown = [position for position in gallery_positions(document) if position in patch_uris]
    totals = {stratum: sum(1 for image in images if image.stratum == stratum) for stratum in STRATUM_GROUPS}
    counts = {stratum: sum(1 for position in shown if images[position].stratum == stratum)
              for stratum in STRATUM_GROUPS}
    bars = {False: figs.colour_bar_uri(), True: figs.colour_bar_uri(colour_map=figs.SIGNED_COLOUR_MAP)}
    panels = []
    for position in shown:
        image, uris = images[position], patch_uris[position]
        patch_id, stratum = str(image.patch_id), str(image.stratum or "")
        facts = [("Label", fmt_any(image.label)), ("Prediction", fmt_any(image.prediction)),
                 ("Probability", fmt(image.probability)), ("Explained class", fmt_any(image.target)),
                 ("Stratum", fmt_any(image.stratum))]
        if image.slide_id:
            facts.append(("Slide", str(image.slide_id)))
        facts.extend(_map_facts(document, position))
        overlays = []
        for name in methods:
            scale = None if scales is None else scales[position][name]
            title = method_title(document, name)
            scores = image.per_method[name]
            colours = ("diverging: blue negative, white 0, red positive" if scale and scale.signed
                       else "sequential: dark purple 0, yellow high")
            overlays.append(Overlay(
                title=title, uri=uris[name], alt=f"{title} attribution map over patch {patch_id} ({colours})",
                deletion=fmt(scores.deletion_auc), insertion=fmt(scores.insertion_auc), centre=fmt(scores.centre_mass),
                bar_uri=bars[bool(scale and scale.signed)] if scale else "",
                scale=scale_labels(scale) if scale else ()))
        group = STRATUM_GROUPS.get(stratum, stratum)
        panels.append(PatchPanel(patch_id=patch_id, facts=facts, note=str(image.note),
                                 original_uri=uris["original"], original_alt=f"Patch {patch_id} as the model sees it",
                                 overlays=overlays, stratum=stratum, slide=str(image.slide_id or ""),
                                 group=f"{group} ({counts.get(stratum, 0)}"
                                       + (f" of {totals[stratum]} shown)" if counts.get(stratum, 0) < totals.get(stratum, 0)
                                          else ")")))
    return panels
