"""How far each substrate takes a patch out of the model's scope.

Deletion and insertion judge a map by what the model does with images part
of whose pixels were replaced by a substrate the model never saw in training.
When the replaced pixels themselves move the model, whichever pixels they are,
the curves measure the substrate's artefact as much as the map.  Blücher,
Vielhaben and Strodthoff ("Decoupling Pixel Flipping and Occlusion Strategy for
Consistent XAI Benchmarks", TMLR 2024) call such samples out of the model's
scope and compare occlusion strategies by how much of the original sample the
model still sees in them (their R-OMS score).  This module measures the same
idea with what every report already has, and is not their score:

*drift* of a substrate on a patch = the mean over the fractions f in
:data:`SCOPE_FRACTIONS` of |p(x) - p(x with a fraction f of its pixels, chosen
at random, replaced by the substrate)|, p the tracked-class probability.

A random tenth to third of the pixels leaves every tissue structure most of
its pixels, so a model that stays in its scope barely changes its output; a
large drift says the substrate's pattern, not the removed evidence, moves it.
The random positions are the random reference map's top positions (one seeded
map per patch), so the drift of the deletion substrate equals the random
map's deletion curve at those fractions.  Besides the drift, the share of
(patch, fraction) pairs whose top-1 class changes is reported.
"""

from __future__ import annotations

import numpy as np
import torch

from reportgen.inference import predict_proba
from reportgen.metrics.faithfulness import changed_pixel_counts, make_substrate, perturbed_images, pixel_ranks

#: Fractions of pixels replaced at random: 10 %, 20 % and 30 %, the first three steps of a 10-step curve.
SCOPE_FRACTIONS = (0.1, 0.2, 0.3)
SCOPE_STEPS = 10


def substrate_drift(model: torch.nn.Module, images: torch.Tensor, random_maps: np.ndarray, targets: torch.Tensor, *,
                    substrate: str, seed: int, dataset_mean=None, precision: str = "fp32") -> tuple[np.ndarray, np.ndarray]:
    """Drift and top-1 changes of one substrate.

    Parameters
    ----------
    images : (N, 3, H, W) float in [0, 1]; targets : (N,) long, the tracked class.
    random_maps : (N, H, W) the random reference map of each patch; its highest positions are replaced.
    substrate : one of the curve substrates (:func:`reportgen.metrics.faithfulness.make_substrate`).
    seed : the tie-break seed of the curves (:func:`reportgen.metrics.faithfulness.pixel_order`).

    Returns
    -------
    drift : (N, len(SCOPE_FRACTIONS)) float64, |change| of the tracked-class probability per fraction.
    flipped : (N, len(SCOPE_FRACTIONS)) bool, the top-1 class differs from the clean image's.
    """
    # One patch per forward pass, so a patch's drift does not depend, even in its last bits, on the patches
    # explained beside it (the build takes them a chunk at a time, shards split them).
    targets = torch.as_tensor(targets, dtype=torch.long).cpu()
    clean = predict_proba(model, images, batch_size=1, precision=precision)
    clean_target = clean.gather(1, targets[:, None])[:, 0].double()
    background = make_substrate(images, substrate, dataset_mean=dataset_mean)
    ranks = torch.from_numpy(pixel_ranks(random_maps, seed=seed)).to(images.device)
    counts = changed_pixel_counts(images.shape[-2] * images.shape[-1], SCOPE_STEPS)[1 : 1 + len(SCOPE_FRACTIONS)]
    drift = np.empty((len(images), len(counts)))
    flipped = np.empty((len(images), len(counts)), dtype=bool)
    for column, count in enumerate(counts):
        changed = torch.full((len(images),), int(count), dtype=torch.long, device=images.device)
        perturbed = perturbed_images(images, background, ranks, changed, mode="deletion")
        probabilities = predict_proba(model, perturbed, batch_size=1, precision=precision)
        drift[:, column] = (probabilities.gather(1, targets[:, None])[:, 0].double() - clean_target).abs().numpy()
        flipped[:, column] = (probabilities.argmax(1) != clean.argmax(1)).numpy()
    return drift, flipped
