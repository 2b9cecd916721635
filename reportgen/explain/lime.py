"""LIME (Ribeiro, Singh & Guestrin, "Why Should I Trust You?": Explaining the
Predictions of Any Classifier, KDD 2016), via lime's ``LimeImageExplainer``.

The image reaches lime as float64 (H, W, 3) in [0, 1] and every perturbed
sample reaches the model in exactly that space, through
:func:`reportgen.inference.predict_proba`; no resize or extra normalisation
(SEED.md, mistake 2). Hidden superpixels are set to ``hide_color`` (0, black).
Each image gets its own seed derived from the run seed and its index; it seeds
both lime's sampler (``random_state``) and quickshift (``random_seed``).

Raw map: the continuous weight of each superpixel for the target class painted
onto its pixels (signed). Display map: the notebook's top-5 positive
superpixels (binary).
"""

from __future__ import annotations

import logging
from functools import lru_cache
from importlib.metadata import version

import numpy as np
import torch
from tqdm.auto import tqdm

from reportgen.explain._settings import check_float, check_int
from reportgen.explain._superpixels import QUICKSHIFT_DEFAULTS, paint, quickshift_segmenter
from reportgen.explain.base import Explainer, ExplainerInfo, register
from reportgen.inference import predict_proba
from reportgen.runtime import derive_seed

logger = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def _batched_explainer_class():
    """lime's ``LimeImageExplainer``, predicting each distinct perturbation once, a whole batch at a time.

    lime draws ``num_samples`` random on/off masks over the superpixels, but
    with the 5 to 12 superpixels quickshift finds on a 96 px patch most masks
    repeat (2^9 = 512 possible masks for 1,000 samples).  The model is
    deterministic in eval mode, so each distinct mask is composed and
    predicted once and its prediction handed to every sample that drew it:
    the on/off matrix comes from the same ``random_state`` draws and the fit
    sees all ``num_samples`` rows, so the explanation equals lime's own.
    Defined on first use so that lime and scikit-image load only when LIME runs.
    """
    from lime import lime_image

    class DistinctLimeImageExplainer(lime_image.LimeImageExplainer):
        #: Distinct masks the last :meth:`data_labels` call predicted.
        distinct_perturbations = 0

        def data_labels(self, image, fudged_image, segments, classifier_fn, num_samples, batch_size=10):
            n_features = np.unique(segments).shape[0]
            data = self.random_state.randint(0, 2, num_samples * n_features).reshape((num_samples, n_features))
            data[0, :] = 1
            distinct, inverse = np.unique(data, axis=0, return_inverse=True)
            # float32 halves the memory traffic of composing samples; the model runs in float32 anyway.
            image, fudged_image = image.astype(np.float32), fudged_image.astype(np.float32)
            labels = []
            for start in range(0, len(distinct), batch_size):
                keep = distinct[start : start + batch_size][:, segments].astype(bool)
                labels.append(classifier_fn(np.where(keep[..., None], image, fudged_image)))
            self.distinct_perturbations = len(distinct)
            return data, np.concatenate(labels)[inverse.reshape(-1)]

    return DistinctLimeImageExplainer


class Lime(Explainer):
    """Settings: ``num_samples`` (1000), ``hide_color`` (0.0), ``num_display_superpixels`` (5),
    quickshift ``kernel_size`` (4), ``max_dist`` (200), ``ratio`` (0.2).

    ``batch_size`` samples go through the model per forward pass; ``precision``
    applies to those forwards.
    """

    name = "lime"
    defaults = {"num_samples": 1000, "hide_color": 0.0, "num_display_superpixels": 5, **QUICKSHIFT_DEFAULTS}

    @classmethod
    def _check_settings(cls, settings: dict) -> dict:
        check_int(cls.name, "num_samples", settings["num_samples"], minimum=2)
        check_int(cls.name, "num_display_superpixels", settings["num_display_superpixels"])
        settings["hide_color"] = check_float(cls.name, "hide_color", settings["hide_color"], maximum=1.0)
        for key in QUICKSHIFT_DEFAULTS:
            check_float(cls.name, key, settings[key], minimum=0.0, inclusive=key == "ratio")
        return settings

    def _details(self) -> dict:
        return {
            "segmentation": "quickshift",
            "model_output": "probability",
            "seeds": "numpy SeedSequence([seed, image_index]) for random_state and random_seed",
            "lime": _lime_version(),
        }

    def _attribute(self, images, targets):
        pixels = images.permute(0, 2, 3, 1).double().cpu().numpy()
        maps, display, n_superpixels, n_distinct, fit_scores = [], [], [], [], []
        for index in tqdm(range(len(images)), desc="lime", disable=not self.progress):
            weights, segments, score, distinct = self._explain_one(pixels[index], int(targets[index]),
                                                                   derive_seed(self.seed, index))
            maps.append(paint(segments, weights))
            display.append(self._display_map(segments, weights))
            n_superpixels.append(int(segments.max()) + 1)
            n_distinct.append(distinct)
            fit_scores.append(score)
            logger.debug("lime image %d: %d superpixels, %d distinct perturbations, local fit R^2 %.3f", index,
                         n_superpixels[-1], distinct, score)
        extras = {
            "n_superpixels": np.asarray(n_superpixels, dtype=np.int64),
            "distinct_perturbations": np.asarray(n_distinct, dtype=np.int64),
            "local_fit_r2": np.asarray(fit_scores, dtype=np.float32),
        }
        return np.stack(maps), np.stack(display), extras

    def _explain_one(self, image_hwc: np.ndarray, target: int, seed: int):
        """Superpixel weights ``{segment: weight}``, segments (H, W), the local fit's R^2 and the
        number of distinct perturbations predicted."""
        settings = self.settings
        segmenter = quickshift_segmenter(
            kernel_size=settings["kernel_size"], max_dist=settings["max_dist"], ratio=settings["ratio"], seed=seed
        )
        explainer = _batched_explainer_class()(random_state=seed)
        explanation = explainer.explain_instance(
            image_hwc,
            self._classifier_fn,
            labels=(target,),
            hide_color=settings["hide_color"],
            top_labels=None,
            num_features=100_000,
            num_samples=settings["num_samples"],
            batch_size=self.batch_size,
            segmentation_fn=segmenter,
        )
        return (dict(explanation.local_exp[target]), explanation.segments, float(explanation.score),
                explainer.distinct_perturbations)

    def _classifier_fn(self, batch_hwc: np.ndarray) -> np.ndarray:
        """(B, H, W, 3) float in [0, 1] -> (B, C) probabilities, same pixel space as training."""
        images = torch.from_numpy(batch_hwc).permute(0, 3, 1, 2).float()
        self.forward_passes += len(images)
        return predict_proba(self.model, images, batch_size=self.batch_size, precision=self.precision).numpy()

    def _display_map(self, segments: np.ndarray, weights: dict) -> np.ndarray:
        """(H, W) 1 on the ``num_display_superpixels`` highest positive superpixels, 0 elsewhere."""
        positive = sorted((weight, segment) for segment, weight in weights.items() if weight > 0)
        chosen = [segment for _, segment in positive[::-1][: self.settings["num_display_superpixels"]]]
        return np.isin(segments, chosen).astype(np.float32)


def _lime_version() -> str:
    return version("lime")


register(
    ExplainerInfo(
        name="lime",
        title="LIME",
        factory=Lime,
        default=True,
        signed=True,
        reference="Ribeiro, Singh & Guestrin, \"Why Should I Trust You?\": Explaining the Predictions of Any Classifier, KDD 2016",
    )
)
