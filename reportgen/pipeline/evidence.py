"""Right for the right reason: where the model's tumour calls and the methods' attribution lie.

The step runs after the maps are scored, on the explained patches: two forward passes per patch (its
periphery replaced by the deletion substrate, then its centre region) and the share of each method's
attribution inside the centre, the periphery and the tumour mask (:mod:`reportgen.metrics.evidence`).
The same two forward passes on every evaluated patch are the model-level checks'
(:mod:`reportgen.pipeline.model_checks`).  :func:`evidence_section` turns the per-patch values into the
report's ``evidence`` record; the model-level sample gives the share of tumour calls lost once the periphery is
removed, which :mod:`reportgen.judgement.right_reason` decides against :data:`PERIPHERY_FLIP_LIMIT`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from reportgen.config import BuildConfig
from reportgen.inference import predict_proba
from reportgen.metrics.evidence import (
    PERIPHERY_FLIP_LIMIT,
    TUMOUR,
    TUMOUR_CALL,
    area_share,
    periphery_only_tumour,
    tumour_probability_without,
)
from reportgen.metrics.faithfulness import make_substrate
from reportgen.metrics.localisation import centre_region, positive_share
from reportgen.metrics.stats import mean_with_interval, share_with_interval
from reportgen.pipeline.model_checks import ModelCheckOutcome


@dataclass
class EvidenceOutcome:
    """Per-patch values of the right-for-the-right-reason step (N explained patches).

    Attributes
    ----------
    substrate : what replaced the removed region (the deletion substrate).
    tumour_clean, without_periphery, without_centre : (N,) tumour probability of the patch as it is, with
        everything outside the centre region replaced, and with the centre region replaced.
    shares : method -> region ("centre", "periphery", "mask") -> (N,) share of the method's positive
        attribution there; "mask" only with masks.
    centre_area : share of the patch the centre region covers (a uniform map's centre share).
    mask_area : (N,) share of the patch the tumour mask covers (a uniform map's mask share), or None.
    periphery_only : (N,) bool, tumour only outside the centre (:func:`periphery_only_tumour`), or None.
    """

    substrate: str
    tumour_clean: np.ndarray
    without_periphery: np.ndarray
    without_centre: np.ndarray
    shares: dict[str, dict[str, np.ndarray]]
    centre_area: float
    mask_area: np.ndarray | None
    periphery_only: np.ndarray | None


def evidence_checks(model: torch.nn.Module, images: torch.Tensor, masks: np.ndarray | None, maps: dict[str, np.ndarray], *, config: BuildConfig,
                    dataset_mean: tuple[float, float, float] | None) -> EvidenceOutcome:
    """Measure where the evidence lies.

    Parameters
    ----------
    model : classifier taking (B, 3, H, W) RGB in [0, 1], returning (B, 2) logits.
    images : (N, 3, H, W) float in [0, 1], the explained patches.
    masks : (N, H, W) tumour masks, or None.
    maps : method name -> (N, H, W) raw attribution maps.
    config : the build's configuration (deletion substrate, batch size, precision).
    dataset_mean : the mean substrate's colour.
    """
    height, width = images.shape[-2:]
    centre = centre_region(height, width)
    substrate = make_substrate(images, config.deletion_substrate, dataset_mean=dataset_mean)
    # One patch per forward pass: a patch's probabilities then do not depend, even in their last bits, on
    # the patches beside it (the build takes them a chunk at a time, shards split them).
    kwargs = {"batch_size": 1, "precision": config.precision}
    tumour_clean = predict_proba(model, images, **kwargs)[:, TUMOUR].double().numpy()
    without_periphery = tumour_probability_without(model, images, ~centre, substrate, **kwargs)
    without_centre = tumour_probability_without(model, images, centre, substrate, **kwargs)
    has_masks = masks is not None
    mask_regions = (np.asarray(masks) > 0) if has_masks else None
    shares = {}
    for name, method_maps in maps.items():
        shares[name] = {"centre": positive_share(method_maps, centre),
                        "periphery": positive_share(method_maps, ~centre)}
        if has_masks:
            shares[name]["mask"] = positive_share(method_maps, mask_regions)
    return EvidenceOutcome(
        substrate=config.deletion_substrate, tumour_clean=np.asarray(tumour_clean, dtype=np.float64),
        without_periphery=without_periphery, without_centre=without_centre, shares=shares,
        centre_area=float(centre.mean()), mask_area=area_share(mask_regions) if has_masks else None,
        periphery_only=periphery_only_tumour(mask_regions) if has_masks else None)


def _share(values: np.ndarray, chosen: np.ndarray, *, groups, seed: int) -> dict:
    """Mean and slide (or patch) bootstrap interval of ``values[chosen]``, with its patch count ``n``
    (:func:`reportgen.metrics.stats.mean_with_interval`)."""
    picked = np.asarray(values, dtype=np.float64)[chosen]
    record = mean_with_interval(picked, seed=seed, groups=None if groups is None else np.asarray(groups)[chosen])
    return {"mean": record["mean"], "ci95": record["ci95"], "n": int(np.isfinite(picked).sum())}


def evidence_section(outcome: EvidenceOutcome, *, strata: list[str], slide_ids: list | None, seed: int,
                     model: ModelCheckOutcome) -> dict:
    """The report's ``evidence`` record (schema: :class:`reportgen.schema.Evidence`).

    ``outcome`` holds the explained patches (``strata``, ``slide_ids``: theirs), which give each method's shares;
    ``model`` holds the model-level checks' patches (:func:`reportgen.pipeline.model_checks.model_checks`), which
    give the region-removal test, with the slide as the interval's unit where slides are known.
    """
    strata = np.asarray(strata)
    calls = outcome.tumour_clean >= TUMOUR_CALL
    clean, without_periphery, without_centre = model.tumour_clean, model.without_periphery, model.without_centre
    groups, hard_model = model.slides, model.periphery_only
    model_calls = clean >= TUMOUR_CALL
    lost_without_periphery = (model_calls & (without_periphery < TUMOUR_CALL)).astype(np.float64)
    kept_without_centre = (model_calls & (without_centre >= TUMOUR_CALL)).astype(np.float64)
    n_calls = int(model_calls.sum())
    call_groups = None if groups is None else np.asarray(groups, dtype=object)[model_calls]
    periphery = share_with_interval(lost_without_periphery[model_calls], seed=seed, groups=call_groups)
    true_positives = strata == "TP"
    methods = {}
    for name, shares in outcome.shares.items():
        record = {"centre_tp": _share(shares["centre"], true_positives, groups=slide_ids, seed=seed)}
        record["mask_tp"] = (_share(shares["mask"], true_positives, groups=slide_ids, seed=seed)
                             if "mask" in shares else None)
        hard = outcome.periphery_only
        record["periphery_hard_negative_calls"] = (
            _share(shares["periphery"], hard & calls, groups=slide_ids, seed=seed) if hard is not None else None)
        methods[name] = record
    return {
        "rule": (f"A tumour call is the model's prediction 'tumour' (probability at least {TUMOUR_CALL:g}). The label is "
                 f"decided by the centre 32x32 region only, so the calls should survive replacing everything "
                 f"outside it with the {outcome.substrate} substrate. The check passes when the 95 % interval of the "
                 f"share of calls that disappear lies wholly at or below {PERIPHERY_FLIP_LIMIT:g}, and fails when it "
                 "lies wholly above: then the model relies on the periphery, where the label says the evidence must "
                 f"not be. The test asks the model only, so it runs on {model.chosen}."),
        "substrate": outcome.substrate,
        "limit": PERIPHERY_FLIP_LIMIT,
        "patches": len(clean),
        "slides": model.slide_count,
        "evaluated": model.evaluated,
        "chosen": model.chosen,
        "tumour_calls": n_calls,
        "lost_without_periphery": periphery,
        "kept_without_centre": share_with_interval(kept_without_centre[model_calls], seed=seed, groups=call_groups),
        "explained_tumour_calls": int(calls.sum()),
        "uniform_centre_share": outcome.centre_area,
        "uniform_mask_share_tp": (_share(outcome.mask_area, true_positives, groups=slide_ids, seed=seed)
                                  if outcome.mask_area is not None else None),
        "periphery_only_negatives": None if hard_model is None else int((hard_model & (model.labels != TUMOUR)).sum()),
        "periphery_only_called_tumour": None if hard_model is None else int((hard_model & model_calls).sum()),
        "methods": methods,
        "per_image": {"without_periphery": [float(v) for v in outcome.without_periphery],
                      "without_centre": [float(v) for v in outcome.without_centre]},
    }
