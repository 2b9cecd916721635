"""The note under each explained patch, generated from its maps, its mask and its stratum.

Judgement from the stored maps alone: numpy, no model and no torch.  Each
sentence is decided by a stated rule on numbers shown beside it, so a reader
can check it against the pictures.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from reportgen.errors import DataError
from reportgen.metrics.agreement import AGREE_SPEARMAN, DISAGREE_SPEARMAN, POOL_CELL, spearman_pooled
from reportgen.metrics.localisation import centre_slices

#: Border-band share of positive mass above which the note warns (uniform: 0.44 at 96 px).
BORDER_WARNING_SHARE = 0.6
#: A region is "dominant" when its mass density is at least this multiple of a uniform map's.
DOMINANT_DENSITY = 1.5

REGIONS = ("centre", "top", "bottom", "left", "right")


def border_width(h: int, w: int) -> int:
    """Width of the border band: one eighth of the shorter side (12 px for 96 px)."""
    return max(1, round(min(h, w) / 8))


def _region_labels(h: int, w: int) -> np.ndarray:
    """(H, W) index into :data:`REGIONS`: the centre third, else the side the pixel is nearest."""
    rows = (np.arange(h) + 0.5) / h - 0.5
    cols = (np.arange(w) + 0.5) / w - 0.5
    dy, dx = np.meshgrid(rows, cols, indexing="ij")
    vertical = np.abs(dy) >= np.abs(dx)
    labels = np.where(vertical, np.where(dy < 0, 1, 2), np.where(dx < 0, 3, 4))
    centre_rows, centre_cols = centre_slices(h, w)
    labels[centre_rows, centre_cols] = 0
    return labels


def mass_location(attribution_map) -> dict:
    """Where a map's positive mass lies.

    Parameters
    ----------
    attribution_map : (H, W) attribution; negative values count as zero.

    Returns
    -------
    dict with
        ``centre``: share of positive mass in the centre third (centre 32x32 of 96);
        ``border``: share in the outer band of :func:`border_width` px (12 px of 96;
        a uniform map gives 0.44);
        ``regions``: share in each of :data:`REGIONS` (the centre third, then the rest
        split by the diagonals into top/bottom/left/right);
        ``dominant``: the region whose share is highest relative to its area, if that
        density is at least :data:`DOMINANT_DENSITY` times a uniform map's, else
        ``"spread"``; ``"none"`` for a map without positive mass.
        Shares are nan when there is no positive mass.
    """
    values = np.asarray(attribution_map, dtype=np.float64)
    if values.ndim != 2:
        raise DataError(f"attribution map has shape {values.shape}; expected (H, W)")
    h, w = values.shape
    positive = np.clip(values, 0, None)
    total = positive.sum()
    labels = _region_labels(h, w)
    band = border_width(h, w)
    inner = np.zeros((h, w), dtype=bool)
    inner[band : h - band, band : w - band] = True
    if total <= 0:
        return {
            "centre": float("nan"),
            "border": float("nan"),
            "regions": {name: float("nan") for name in REGIONS},
            "dominant": "none",
        }
    shares = {name: float(positive[labels == index].sum() / total) for index, name in enumerate(REGIONS)}
    areas = {name: float((labels == index).mean()) for index, name in enumerate(REGIONS)}
    density = {name: shares[name] / areas[name] for name in REGIONS if areas[name] > 0}
    best = max(density, key=lambda name: (density[name], -REGIONS.index(name)))
    return {
        "centre": shares["centre"],
        "border": float(positive[~inner].sum() / total),
        "regions": shares,
        "dominant": best if density[best] >= DOMINANT_DENSITY else "spread",
    }


#: What class 0 and class 1 mean (reportgen.model.network.CLASS_NAMES; repeated so this module needs no torch).
CLASS_WORDS = ("normal", "tumour")
#: The darkest share of a patch's pixels (mean of R, G, B): nuclei, lymphocytes and pigment on H&E.
DARK_FRACTION = 0.10
#: Evidence "lies on" a region when its share there is at least this multiple of the region's area.
ON_REGION = DOMINANT_DENSITY
#: A signed map is "mostly negative" when negative weight is at least this share of its total |weight|.
MOSTLY_NEGATIVE = 0.8
#: The phrase of the border warning; no other sentence of a note says "border" (the summary counts it).
BORDER_PHRASE = "concentrated on the patch border"


@dataclass(frozen=True)
class MapFacts:
    """Where one map's evidence lies on one patch; shares are of its positive mass (nan without any).

    Attributes
    ----------
    centre, border : share in the centre third and in the outer band of :func:`border_width` px.
    mask : share on the tumour mask, ``None`` without a mask or with an empty one.
    mask_area : the mask's share of the patch's pixels (0 for an empty mask, ``None`` without masks).
    dark : share on the darkest :data:`DARK_FRACTION` of the pixels, ``None`` without the image.
    negative : negative weight's share of the total |weight| (0 for a non-negative map).
    negative_mask : share of the negative weight on the mask, ``None`` without one or without negative weight.
    dominant : :func:`mass_location`'s dominant region.
    """

    centre: float
    border: float
    mask: float | None
    mask_area: float | None
    dark: float | None
    negative: float
    negative_mask: float | None
    dominant: str


def _share(weights: np.ndarray, region: np.ndarray) -> float:
    total = weights.sum()
    return float((weights * region).sum() / total) if total > 0 else float("nan")


def map_facts(values, *, mask=None, image=None) -> MapFacts:
    """:class:`MapFacts` of one map.

    Parameters
    ----------
    values : (H, W) raw attribution, signed or not.
    mask : (H, W) tumour mask (non-zero inside), or ``None`` (default).
    image : (H, W, 3) uint8 patch, or ``None`` (default): without it ``dark`` is ``None``.
    """
    values = np.nan_to_num(np.asarray(values, dtype=np.float64))
    if values.ndim != 2:
        raise DataError(f"attribution map has shape {values.shape}; expected (H, W)")
    location = mass_location(values)
    positive, negative = np.clip(values, 0, None), np.clip(-values, 0, None)
    magnitude = positive.sum() + negative.sum()
    inside = None if mask is None else np.asarray(mask) > 0
    has_tumour = inside is not None and inside.any()
    dark = None
    if image is not None:
        grey = np.asarray(image, dtype=np.float64).mean(axis=-1)
        dark = _share(positive, grey <= np.quantile(grey, DARK_FRACTION))
    return MapFacts(
        centre=location["centre"], border=location["border"],
        mask=_share(positive, inside) if has_tumour else None,
        mask_area=None if inside is None else float(inside.mean()), dark=dark,
        negative=float(negative.sum() / magnitude) if magnitude > 0 else 0.0,
        negative_mask=_share(negative, inside) if has_tumour and negative.sum() > 0 else None,
        dominant=location["dominant"])


def _centre_area(h: int, w: int) -> float:
    rows, cols = centre_slices(h, w)
    return (rows.stop - rows.start) * (cols.stop - cols.start) / (h * w)


def _on_mask(facts: MapFacts) -> str | None:
    """``"on"``, ``"off"`` or ``"level"``: the map's positive mass on the mask against the mask's area."""
    if facts.mask is None or np.isnan(facts.mask):
        return None
    ratio = facts.mask / facts.mask_area
    return "on" if ratio >= ON_REGION else "off" if ratio < 1.0 else "level"


def _map_sentence(title: str, facts: MapFacts, *, evidence: str, centre_area: float | None, band: int,
                  signed: bool) -> str:
    """One map against the mask, the centre square (``centre_area`` its share of the patch; ``None`` where the
    centre does not decide the label, and the words leave it out) and the border band: in words, then the
    numbers."""
    if np.isnan(facts.centre):
        sentence = f"{title}: no evidence {evidence}, every weight is negative"
        if facts.negative_mask is not None:
            sentence += f" ({facts.negative_mask:.0%} of it on the mask, {facts.mask_area:.0%} of the patch)"
        return sentence + "."
    words = []
    mask = _on_mask(facts)
    if mask is not None:
        words.append({"on": "on the tumour", "off": "beside the tumour",
                      "level": "not on the tumour in particular"}[mask])
    if centre_area is None:
        pass
    elif facts.centre >= ON_REGION * centre_area:
        words.append("in the centre square")
    elif facts.centre < centre_area:
        words.append("mostly outside the centre square")
    else:
        words.append("not centred")
    if facts.border > BORDER_WARNING_SHARE:
        words.append(BORDER_PHRASE)
    numbers = [] if facts.mask is None else [f"mask {facts.mask:.0%} on {facts.mask_area:.0%} of the patch"]
    numbers += [f"centre {facts.centre:.0%}", f"outer {band} px {facts.border:.0%}"]
    if facts.dark is not None and facts.dark >= ON_REGION * DARK_FRACTION:
        numbers.append(f"darkest tenth of the pixels {facts.dark:.0%}")
    where = f" {_join(words)}" if words else ""
    sentence = f"{title}: evidence {evidence}{where} ({', '.join(numbers)})."
    if signed and facts.negative >= MOSTLY_NEGATIVE:
        sentence += (f" {facts.negative:.0%} of its weight is negative: hiding almost any region raises the "
                     "explained class's probability.")
    return sentence


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _titles(names: list[str], titles: dict[str, str]) -> str:
    return _join([titles.get(name, name) for name in names])


def _verb(names: list[str], singular: str, plural: str) -> str:
    return singular if len(names) == 1 else plural


def _case_sentence(stratum: str, mask_facts: tuple[float, float] | None, target_word: str, *,
                   centre_decides: bool = True) -> str:
    """What happened on the patch, with how much tumour the centre square holds when there is a mask and the
    centre decides the label (``centre_decides``)."""
    if not centre_decides:
        if stratum == "FP":
            return "False alarm: the label is normal, yet the model said tumour."
        mask_facts = None
    centre_tumour = None if mask_facts is None else mask_facts[0]
    outside = mask_facts is not None and mask_facts[1] > 0
    if stratum == "FN":
        where = "" if centre_tumour is None else f" (the mask covers {centre_tumour:.0%} of the centre square)"
        return f"Missed tumour: the label is tumour{where} but the model said normal."
    if stratum == "FP":
        if mask_facts is None:
            where = ""
        elif centre_tumour:
            where = f" by its label, though the mask covers {centre_tumour:.0%} of it"
        else:
            where = " and tumour-like tissue lies only outside it" if outside else " and the patch has no tumour mask"
        return f"False alarm: no tumour in the centre square{where}, yet the model said tumour."
    if stratum == "TP":
        where = "" if centre_tumour is None else f": the mask covers {centre_tumour:.0%} of the centre square"
        return f"Tumour found{where}."
    if stratum == "TN":
        if outside:
            return ("Correctly normal although tumour-like tissue lies outside the centre square "
                    "(the label ignores it).")
        return "Correctly normal."
    return f"Explained class: {target_word}."


def _reading(stratum: str, facts: dict[str, MapFacts], titles: dict[str, str], *, target: int,
             signed: set[str], centre_tumour: float | None, centre_area: float | None) -> str | None:
    """What the maps suggest the model used: always for an error (FN, FP), for a correct call when they say
    something about the mask (``centre_tumour``: the mask's share of the centre square, ``None`` without masks).
    ``centre_area`` is the centre square's share of the patch, ``None`` where the centre does not decide the
    label: then nothing is said about the centre."""
    evidence = f"evidence for {CLASS_WORDS[target]}"
    on = [name for name, f in facts.items() if _on_mask(f) == "on"]
    off = [name for name, f in facts.items() if _on_mask(f) == "off"]
    dark = [name for name, f in facts.items() if f.dark is not None and not np.isnan(f.dark)
            and f.dark >= 2 * DARK_FRACTION]
    centred = [] if centre_area is None else [name for name, f in facts.items()
                                              if not np.isnan(f.centre) and f.centre >= ON_REGION * centre_area]
    against = [name for name in signed & facts.keys() if facts[name].negative_mask is not None
               and facts[name].negative_mask >= ON_REGION * facts[name].mask_area]
    parts = []
    if stratum == "FN":
        if target == 0 and on:
            parts.append(f"{_titles(on, titles)} put the {evidence} on the tumour itself: the model saw the "
                         "tumour region and read it as normal")
        elif target == 0 and off:
            parts.append(f"{_titles(off, titles)} put the {evidence} beside the tumour: the model judged by the "
                         "tissue around it and gave the tumour too little weight")
        elif target == 1 and on:
            parts.append(f"{_titles(on, titles)} find the tumour evidence on the mask, but too little of it "
                         "to decide tumour")
        if target == 0 and against:
            parts.append(f"{_titles(against, titles)} {_verb(against, 'weighs', 'weigh')} the tumour against "
                         "normal, not enough to change the decision")
        if not parts:
            parts.append("no map singles out the tumour: they do not show what the model used")
    elif stratum == "FP":
        if on and centre_area is not None and not centre_tumour:
            parts.append(f"{_titles(on, titles)} put the {evidence} on the tumour-like tissue outside the centre "
                         "square: the model reacted to it although the label ignores it")
        elif on:
            parts.append(f"{_titles(on, titles)} put the {evidence} on the masked tissue")
        if dark:
            parts.append(f"{_titles(dark, titles)} put at least twice their share on the darkest pixels: the "
                         "model may have taken dark nuclei or pigment for tumour")
        if centred and not on:
            parts.append(f"{_titles(centred, titles)} put the {evidence} in the centre square, on tissue the label "
                         "calls normal")
        if not parts:
            parts.append("no map concentrates anywhere: they do not show what the model used")
    elif stratum == "TP" and (on or off):
        if on and not off:
            level = [name for name, f in facts.items() if _on_mask(f) == "level"]
            return (f"The maps agree with the label's reason: {_titles(on, titles)} put the {evidence} on the mask"
                    + (f"; {_titles(level, titles)} {_verb(level, 'does', 'do')} not single it out." if level else "."))
        if off:
            return (f"Right answer, unclear reason: {_titles(off, titles)} put the {evidence} off the mask"
                    + (f", while {_titles(on, titles)} {_verb(on, 'follows', 'follow')} it." if on else "."))
    elif stratum == "TN" and on and centre_area is not None and not centre_tumour:
        return (f"{_titles(on, titles)} put the {evidence} on the tumour-like tissue outside the centre square, "
                "which argues for a tumour call.")
    else:
        return None
    return "What the maps suggest the model used: " + "; ".join(parts) + "."


def _agreement(names: list[str], maps: dict[str, np.ndarray], titles: dict[str, str], cell: int) -> str | None:
    pairs = []
    for first, second in itertools.combinations(names, 2):
        rho = spearman_pooled(maps[first][None], maps[second][None], cell)[0]
        pair = f"{titles.get(first, first)} / {titles.get(second, second)}"
        if np.isnan(rho):
            pairs.append(f"{pair} not comparable (a constant map)")
        else:
            word = "agree" if rho >= AGREE_SPEARMAN else "partly agree" if rho >= DISAGREE_SPEARMAN else "disagree"
            pairs.append(f"{pair} {rho:.2f}, {word}")
    return f"Agreement (Spearman, {cell} px cells): " + "; ".join(pairs) + "." if pairs else None


def patch_note(maps: dict[str, np.ndarray], *, titles: dict[str, str], signed: set[str], stratum: str,
               target: int, mask=None, image=None, cell: int = POOL_CELL, centre_decides: bool = True) -> str:
    """The note of one patch: what happened, each map against the mask, the centre square and the border band,
    what the maps suggest the model used, and where the maps agree.

    Parameters
    ----------
    maps : method name -> (H, W) raw map of the patch, in report order.
    titles : method name -> display title (the name itself when missing).
    signed : names of the methods whose maps carry a sign.
    stratum : ``"TP"``, ``"TN"``, ``"FP"`` or ``"FN"``.
    target : the explained class (0 normal, 1 tumour): each map's positive weight is evidence for it.
    mask : (H, W) tumour mask or ``None`` (default); image : (H, W, 3) uint8 patch or ``None`` (default).
    cell : pooling cell of the agreement's Spearman correlation (default 8 px, as in the Agreement section).
    centre_decides : the centre square decides the label, as in PCam (default); without such a label region
        (:mod:`reportgen.data.label_region`) the note says nothing about the centre square.

    Returns
    -------
    str
        Sentences in that order; every FN and FP gets the "What the maps suggest" sentence.
    """
    names = list(maps)
    if not names:
        return "No explanation maps."
    facts = {name: map_facts(maps[name], mask=mask, image=image) for name in names}
    h, w = np.shape(maps[names[0]])
    mask_facts = None
    if mask is not None:
        inside = np.asarray(mask) > 0
        rows, cols = centre_slices(h, w)
        centre = np.zeros((h, w), dtype=bool)
        centre[rows, cols] = True
        mask_facts = (float(inside[centre].mean()), float((inside & ~centre).mean()))
    evidence = f"for {CLASS_WORDS[target]}"
    centre_area = _centre_area(h, w) if centre_decides else None
    sentences = [_case_sentence(stratum, mask_facts, CLASS_WORDS[target], centre_decides=centre_decides)]
    sentences += [_map_sentence(titles.get(name, name), facts[name], evidence=evidence,
                                centre_area=centre_area, band=border_width(h, w), signed=name in signed)
                  for name in names]
    sentences += [s for s in (_reading(stratum, facts, titles, target=target, signed=set(signed),
                                       centre_tumour=None if mask_facts is None else mask_facts[0],
                                       centre_area=centre_area),
                              _agreement(names, maps, titles, cell)) if s]
    return " ".join(sentences)
