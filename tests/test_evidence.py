"""Right for the right reason: the region-removal test flags a model that reads the periphery and passes one that
reads the centre, on hand-written models whose reason is known by construction."""

import json

import numpy as np
import pytest
import torch
from torch import nn

from reportgen.cache import ArrayCache
from reportgen.config import resolve_config
from reportgen.data import open_pcam
from reportgen.judgement import page_one_checks
from reportgen.metrics.evidence import periphery_only_tumour
from reportgen.metrics.localisation import positive_share
from reportgen.pipeline.evidence import evidence_checks, evidence_section
from reportgen.pipeline.model_checks import model_checks
from reportgen.schema import ReportDocument, to_json

SIZE, N = 96, 12
BACKGROUND = (0.85, 0.6, 0.8)


def _patches():
    """12 pink patches: the first 6 carry dark nuclei in the centre 32x32 (tumour) and a dark marker in the top-left
    corner (the planted shortcut, present exactly on the tumour patches); masks mark the nuclei."""
    images = torch.empty(N, 3, SIZE, SIZE)
    images[:] = torch.tensor(BACKGROUND)[:, None, None]
    masks = np.zeros((N, SIZE, SIZE), dtype=np.uint8)
    for i in range(6):
        images[i, :, 40:56, 40:56] = 0.2
        masks[i, 40:56, 40:56] = 1
        images[i, :, 2:14, 2:14] = 0.1
    return images, masks


class CentreDarkness(nn.Module):
    """Honest by construction: tumour when the centre 32x32 is dark (nuclei), whatever the periphery holds."""

    def forward(self, images):
        darkness = 1.0 - images[:, :, 32:64, 32:64].mean(dim=(1, 2, 3))
        logit = 40.0 * (darkness - 0.3)
        return torch.stack([-logit, logit], dim=1)


class CornerMarker(nn.Module):
    """A shortcut by construction: tumour when the top-left corner is dark, whatever the centre holds."""

    def forward(self, images):
        darkness = 1.0 - images[:, :, 0:16, 0:16].mean(dim=(1, 2, 3))
        logit = 40.0 * (darkness - 0.4)
        return torch.stack([-logit, logit], dim=1)


def _model_checks(model, images, masks, labels, slides=None):
    """The build's model-level checks on ``images`` held in memory (patch index = position), without stain."""
    config = resolve_config(flag_values={"images": N})
    return model_checks(model, lambda indices: (images[indices], masks[indices]), np.arange(len(images)), labels,
                        slides=slides, evaluated=len(images), chosen=f"every evaluated patch ({len(images)})",
                        config=config, dataset_mean=BACKGROUND, stain_amounts=None,
                        cache=ArrayCache("unused", enabled=False), cache_context={}, progress=False)


def _evidence(model):
    images, masks = _patches()
    config = resolve_config(flag_values={"images": N})
    outcome = evidence_checks(model, images, masks, {}, config=config, dataset_mean=BACKGROUND)
    strata = ["TP"] * 6 + ["TN"] * 6
    checked = _model_checks(model, images, masks, np.array([1] * 6 + [0] * 6))
    return checked, evidence_section(outcome, strata=strata, slide_ids=None, seed=0, model=checked)


def _outcome(section: dict) -> str:
    """The page-one outcome of the region-removal test on an evidence record."""
    from reportgen.judgement import right_reason

    (check,) = right_reason.checks(ReportDocument.from_json({"evidence": json.loads(json.dumps(section))}))
    return check.outcome


def test_both_models_call_the_same_six_patches_tumour():
    images, _ = _patches()
    for model in (CentreDarkness(), CornerMarker()):
        assert model(images).argmax(dim=1).tolist() == [1] * 6 + [0] * 6


def test_the_corner_marker_model_is_flagged_and_the_honest_one_is_not():
    _, corner = _evidence(CornerMarker())
    _, centre = _evidence(CentreDarkness())
    assert corner["tumour_calls"] == centre["tumour_calls"] == 6
    # Replacing the periphery removes the marker: every call of the shortcut model disappears ...
    assert corner["lost_without_periphery"]["mean"] == 1.0 and _outcome(corner) == "fail"
    # ... and none of the honest model's; replacing the centre removes all of its calls.  Six calls cannot clear
    # a model: 0 of 6 lost has an exact 95 % interval up to 0.46, across the limit.
    assert centre["lost_without_periphery"]["mean"] == 0.0 and _outcome(centre) == "inconclusive"
    assert centre["lost_without_periphery"]["ci95"][1] == pytest.approx(1 - 0.025 ** (1 / 6))
    assert centre["kept_without_centre"]["mean"] == 0.0 and corner["kept_without_centre"]["mean"] == 1.0


def test_the_flag_reaches_page_one_and_the_warnings():
    from gold.fixture import make_document

    from reportgen.judgement import summarise_findings

    document = make_document(3)
    _, document["evidence"] = _evidence(CornerMarker())
    document["evidence"] = json.loads(json.dumps(to_json(document["evidence"])))
    row = next(check for check in page_one_checks(document) if check["section"] == "evidence")
    assert row["outcome"] == "fail" and "1.00" in row["measured"] and "of 6 tumour calls lost" in row["measured"]
    warnings = summarise_findings(document)["warning_records"]
    assert any(w["severity"] == "high" and "lies where the label says it must not" in w["text"] for w in warnings)
    _, document["evidence"] = _evidence(CentreDarkness())
    row = next(check for check in page_one_checks(document) if check["section"] == "evidence")
    assert row["outcome"] == "inconclusive" and "tumour calls" in row["decide"]
    assert not any("lies where the label" in w for w in summarise_findings(document)["warnings"])


def test_too_few_tumour_calls_are_undecided():
    images, masks = _patches()
    keep = np.arange(N) >= 3  # 3 tumour calls left
    model = CentreDarkness()
    config = resolve_config(flag_values={"images": N})
    outcome = evidence_checks(model, images[keep], masks[keep], {}, config=config, dataset_mean=BACKGROUND)
    checked = _model_checks(model, images[keep], masks[keep], np.array([1] * 3 + [0] * 6))
    section = evidence_section(outcome, strata=["TP"] * 3 + ["TN"] * 6, slide_ids=None, seed=0, model=checked)
    assert section["tumour_calls"] == 3 and _outcome(section) == "inconclusive"


def test_the_test_reads_the_model_checks_patches_not_the_explained_ones():
    """The explained patches hold 3 tumour calls, too few to decide; the model-level checks, on all 12 patches of
    three slides, hold 6, and decide, with the slide as the interval's unit."""
    images, masks = _patches()
    model = CornerMarker()
    config = resolve_config(flag_values={"images": N})
    explained = np.array([3, 4, 5, 6, 7, 8])
    outcome = evidence_checks(model, images[explained], masks[explained], {}, config=config, dataset_mean=BACKGROUND)
    slides = np.array(["a", "b", "c"] * 4, dtype=object)
    checked = _model_checks(model, images, masks, np.array([1] * 6 + [0] * 6), slides=slides)
    section = evidence_section(outcome, strata=["TP"] * 3 + ["TN"] * 3, slide_ids=list(slides[explained]), seed=0,
                               model=checked)
    assert section["explained_tumour_calls"] == 3 and section["tumour_calls"] == 6
    assert section["patches"] == N and section["slides"] == 3 and section["evaluated"] == N
    assert _outcome(section) == "fail"
    # 6 of 6 lost: the exact interval's lower end, 0.025 ** (1 / 6), is wider than the bootstrap's [1, 1].
    assert section["lost_without_periphery"] == {"mean": 1.0, "ci95": [pytest.approx(0.025 ** (1 / 6)), 1.0], "n": 6,
                                                 "slides": 3}
    assert len(section["per_image"]["without_periphery"]) == len(explained)  # per patch: the explained ones
    # The hard negatives' counts are the model's decisions, on the same patches: none in these data.
    assert section["periphery_only_negatives"] == 0


def test_attribution_shares_against_hand_counts():
    maps = np.zeros((2, 96, 96))
    maps[0, 40:56, 40:56] = 1.0  # 256 units, all in the centre
    maps[0, 0:4, 0:4] = 3.0  # 48 units in the periphery
    maps[0, 90:96, 90:96] = -5.0  # negative attribution counts as zero
    centre = np.zeros((96, 96), dtype=bool)
    centre[32:64, 32:64] = True
    shares = positive_share(maps, centre)
    assert shares[0] == pytest.approx(256 / 304)
    assert np.isnan(shares[1])  # a map with no positive attribution has no share


def test_periphery_only_tumour_reads_the_mask():
    masks = np.zeros((3, 96, 96), dtype=np.uint8)
    masks[0, 5:10, 5:10] = 1  # periphery only
    masks[1, 5:10, 5:10] = 1
    masks[1, 40:42, 40:42] = 1  # also in the centre
    assert periphery_only_tumour(masks).tolist() == [True, False, False]


def test_a_real_build_records_the_test_and_its_check(shared_build, tiny_pcam):
    document = json.loads((shared_build / "report.json").read_text())
    evidence = document["evidence"]
    n = len(document["images"])
    assert len(evidence["per_image"]["without_periphery"]) == n == len(evidence["per_image"]["without_centre"])
    calls = sum(1 for image in document["images"] if image["tumour_probability"] >= 0.5)
    assert evidence["explained_tumour_calls"] == calls
    # The model-level test runs on every evaluated patch, with the slides of the split as its unit.
    evaluated = document["model"]["evaluation"]["n"]
    assert evidence["patches"] == evaluated == evidence["evaluated"] == 48 > n
    assert evidence["chosen"] == f"every evaluated patch ({evaluated})"
    with open_pcam(tiny_pcam, splits=("valid",)) as data:
        slide_ids = data.split("valid").slide_ids
    assert slide_ids is not None and evidence["slides"] == len(set(slide_ids)) > 1
    assert evidence["lost_without_periphery"]["n"] == evidence["tumour_calls"] >= calls
    assert set(evidence["methods"]) == set(document["methods"])
    assert any(check["section"] == "evidence" for check in document["summary"]["checks"])
    assert "Right for the right reason" in (shared_build / "report.html").read_text()
