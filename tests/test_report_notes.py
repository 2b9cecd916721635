"""The per-patch notes: each map against the mask, the centre square and the border band, and the error type."""

from __future__ import annotations

import collections
import json
import re

import numpy as np
import pytest
from gold.fixture import make_document

from reportgen.judgement import summarise_findings
from reportgen.judgement.notes import BORDER_PHRASE, map_facts, mass_location, patch_note

TITLES = {"ig": "Integrated Gradients", "cam": "Grad-CAM", "lime": "LIME"}
SENTENCE = re.compile(r"(?<=\.) (?=[A-Z])")


def _centre_blob(side=96):
    rows, cols = np.mgrid[0:side, 0:side] - (side - 1) / 2
    return np.exp(-(rows**2 + cols**2) / (2 * 8.0**2))


def _border_map(side=96):
    heavy = np.zeros((side, side))
    heavy[:6, :] = 1.0
    heavy[-6:, :] = 1.0
    return heavy


def _centre_mask(side=96):
    mask = np.zeros((side, side), np.uint8)
    mask[40:56, 40:56] = 1
    return mask


def sentences(note: str) -> list[str]:
    return SENTENCE.split(note)


def test_mass_location():
    uniform = mass_location(np.ones((96, 96)))
    assert uniform["centre"] == pytest.approx(1024 / 9216)
    assert uniform["border"] == pytest.approx(1 - 72**2 / 96**2)
    assert uniform["dominant"] == "spread"
    assert mass_location(_centre_blob())["dominant"] == "centre"
    bottom = np.zeros((96, 96))
    bottom[80:, 30:60] = 1.0
    assert mass_location(bottom)["dominant"] == "bottom"
    assert mass_location(_border_map())["border"] == pytest.approx(1.0)
    assert mass_location(-np.ones((96, 96)))["dominant"] == "none"


def test_map_facts_measure_the_mask_the_dark_pixels_and_the_negative_weight():
    mask = _centre_mask()
    on_mask = mask.astype(float) - 0.25 * _border_map()
    image = np.full((96, 96, 3), 200, np.uint8)
    image[mask > 0] = 20  # the mask is the darkest tissue
    facts = map_facts(on_mask, mask=mask, image=image)
    assert facts.mask == pytest.approx(1.0) and facts.mask_area == pytest.approx(256 / 9216)
    assert facts.centre == pytest.approx(1.0) and facts.border == pytest.approx(0.0)
    assert facts.dark == pytest.approx(1.0)
    negative = 0.25 * _border_map().sum()
    assert facts.negative == pytest.approx(negative / (negative + 256))
    assert facts.negative_mask == pytest.approx(0.0)
    assert map_facts(on_mask).mask is None and map_facts(on_mask).dark is None


def test_a_missed_tumour_names_what_the_maps_suggest_the_model_used():
    mask = _centre_mask()
    # Evidence for "normal" on the border, beside the tumour; LIME weighs the tumour against normal.
    lime = 0.2 - mask.astype(float)
    note = patch_note({"ig": _border_map(), "lime": lime}, titles=TITLES, signed={"lime"}, stratum="FN", target=0,
                      mask=mask)
    assert note.startswith("Missed tumour: the label is tumour (the mask covers 25% of the centre square)")
    assert f"Integrated Gradients: evidence for normal beside the tumour, mostly outside the centre square and " \
           f"{BORDER_PHRASE}" in note
    assert "What the maps suggest the model used: Integrated Gradients and LIME put the evidence for normal beside " \
        "the tumour" in note
    assert "LIME weighs the tumour against normal" in note


def test_a_false_alarm_on_tissue_outside_the_centre_square_says_so():
    mask = np.zeros((96, 96), np.uint8)
    mask[4:20, 4:20] = 1  # tumour-like tissue in a corner: PCam's label ignores it
    note = patch_note({"cam": mask.astype(float) + 0.01}, titles=TITLES, signed=set(), stratum="FP", target=1,
                      mask=mask)
    assert note.startswith("False alarm: no tumour in the centre square and tumour-like tissue lies only outside it")
    assert "Grad-CAM: evidence for tumour on the tumour" in note
    assert "the model reacted to it although the label ignores it" in note


def test_every_error_gets_a_reading_and_a_correct_call_on_the_mask_confirms_it():
    mask = _centre_mask()
    for stratum in ("FN", "FP"):
        for maps in ({"cam": np.ones((96, 96))}, {"ig": _centre_blob()}, {"lime": -np.ones((96, 96))}):
            note = patch_note(maps, titles=TITLES, signed={"lime"}, stratum=stratum, target=int(stratum == "FP"),
                              mask=mask if stratum == "FN" else None)
            assert "What the maps suggest the model used: " in note, (stratum, note)
    note = patch_note({"ig": mask.astype(float)}, titles=TITLES, signed=set(), stratum="TP", target=1, mask=mask)
    assert "The maps agree with the label's reason: Integrated Gradients put the evidence for tumour on the mask." \
        in note


def test_the_verbs_agree_with_how_many_maps_they_name():
    mask = _centre_mask()
    level = np.ones((96, 96))
    note = patch_note({"ig": mask.astype(float), "cam": level, "lime": level}, titles=TITLES, signed=set(),
                      stratum="TP", target=1, mask=mask)
    assert "; Grad-CAM and LIME do not single it out." in note
    note = patch_note({"ig": mask.astype(float), "cam": level}, titles=TITLES, signed=set(), stratum="TP",
                      target=1, mask=mask)
    assert "; Grad-CAM does not single it out." in note


def test_a_signed_map_without_positive_weight_is_called_so():
    note = patch_note({"lime": -np.ones((96, 96))}, titles=TITLES, signed={"lime"}, stratum="TN", target=0)
    assert "LIME: no evidence for normal, every weight is negative." in note


def test_agreement_is_stated_per_pair():
    note = patch_note({"ig": _centre_blob(), "cam": _centre_blob() + 0.01, "lime": _border_map()}, titles=TITLES,
                      signed=set(), stratum="TN", target=0)
    assert "Agreement (Spearman, 8 px cells): Integrated Gradients / Grad-CAM 1.00, agree; " in note
    assert "Integrated Gradients / LIME" in note and "disagree" in note


def test_the_border_warning_is_the_only_sentence_that_says_border():
    note = patch_note({"ig": _centre_blob(), "cam": _border_map()}, titles=TITLES, signed=set(), stratum="TN",
                      target=0, mask=_centre_mask())
    assert note.lower().count("border") == 1 and BORDER_PHRASE in note
    # The summary counts the patches whose note warns about the border.
    quiet = patch_note({"ig": _centre_blob()}, titles=TITLES, signed=set(), stratum="TN", target=0)
    assert "border" not in quiet.lower()
    document = make_document(3)
    document.images = document.images[:2]
    document.images[0].note, document.images[1].note = note, quiet
    warnings = summarise_findings(document)["warnings"]
    assert any(w.startswith("1 of 2 patch notes report attribution concentrated on the patch border") for w in warnings)


def identical_sentence_share(notes: list[str], *, numbers: bool = True) -> tuple[float, str]:
    """The largest share of notes that contain one sentence, and that sentence (digits blanked when
    ``numbers`` is False, so only the wording counts)."""
    counts = collections.Counter()
    for note in notes:
        found = set(sentences(note))
        if not numbers:
            found = {re.sub(r"\d+(\.\d+)?", "#", sentence) for sentence in found}
        counts.update(found)
    sentence, count = counts.most_common(1)[0]
    return count / len(notes), sentence


def test_no_note_sentence_is_shared_by_more_than_half_the_patches_of_a_real_build(shared_build):
    images = json.loads((shared_build / "report.json").read_text())["images"]
    notes = [image["note"] for image in images]
    assert len(notes) >= 4 and all(notes)
    share, sentence = identical_sentence_share(notes)
    assert share <= 0.5, f"{share:.0%} of the notes say {sentence!r}"
    for image in images:
        if image["stratum"] in ("FN", "FP"):
            assert "What the maps suggest the model used: " in image["note"]
