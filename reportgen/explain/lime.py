"""LIME (Ribeiro, Singh & Guestrin, "Why Should I Trust You?": Explaining the
Predictions of Any Classifier, KDD 2016), via lime's ``LimeImageExplainer``.

The image reaches lime as float64 (H, W, 3) in [0, 1] and every perturbed
sample reaches the model in exactly that space, through
:func:`reportgen.inference.predict_proba`; no resize or extra normalisation
(docs/metrics.md#one-preprocessing-owned-by-the-model). Hidden superpixels are set to ``hide_color`` (0, black).
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
from reportgen.explain._superpixels import QUICKSHIFT_DEFAULTS, SuperpixelExplainer, paint, quickshift_segmenter
from reportgen.explain.base import ExplainerInfo, StabilityVariant, register
from reportgen.inference import model_device, predict_proba
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
    ``predict_masks`` composes and predicts the samples of the distinct masks
    (:meth:`Lime._predict_masks`, on the model's device).
    Defined on first use so that lime and scikit-image load only when LIME runs.
    """
    from lime import lime_image

    class DistinctLimeImageExplainer(lime_image.LimeImageExplainer):
        #: Distinct masks the last :meth:`data_labels` call predicted.
        distinct_perturbations = 0

        def __init__(self, predict_masks, **kwargs):
            super().__init__(**kwargs)
            self.predict_masks = predict_masks

        def data_labels(self, image, fudged_image, segments, classifier_fn, num_samples, batch_size=10):
            n_features = np.unique(segments).shape[0]
            data = self.random_state.randint(0, 2, num_samples * n_features).reshape((num_samples, n_features))
            data[0, :] = 1
            distinct, inverse = np.unique(data, axis=0, return_inverse=True)
            labels = self.predict_masks(distinct, segments, image, fudged_image, batch_size)
            self.distinct_perturbations = len(distinct)
            return data, labels[inverse.reshape(-1)]

    return DistinctLimeImageExplainer


class Lime(SuperpixelExplainer):
    """Settings: ``num_samples`` (1000), ``hide_color`` (0.0), ``num_display_superpixels`` (5),
    quickshift ``kernel_size`` (4), ``max_dist`` (200), ``ratio`` (0.2).

    ``batch_size`` samples go through the model per forward pass; ``precision``
    applies to those forwards.
    """

    name = "lime"
    defaults = {"num_samples": 1000, "hide_color": 0.0, "num_display_superpixels": 5, **QUICKSHIFT_DEFAULTS}
    setting_labels = {"num_samples": "Perturbed samples per patch", "segmentation": "Superpixel segmentation"}
    extra_labels = {**SuperpixelExplainer.extra_labels, "distinct_perturbations": "Distinct perturbations per patch, mean",
                    "local_fit_r2": "Local linear fit R\u00b2, mean"}
    patch_facts = {**SuperpixelExplainer.patch_facts, "distinct_perturbations": "distinct perturbations"}
    #: LIME again with a second seed: how much of a map is the sampler's chance.
    stability_variants = (StabilityVariant(name="lime_seeds", title="LIME under a second seed", kind="seed",
                                           note="each seeds lime's sampler and quickshift"),)

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
        explainer = _batched_explainer_class()(predict_masks=self._predict_masks, random_state=seed)
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

    def _predict_masks(self, masks: np.ndarray, segments: np.ndarray, image_hwc: np.ndarray, hidden_hwc: np.ndarray,
                       batch_size: int) -> np.ndarray:
        """(D, C) probabilities of the samples that keep the superpixels each row of ``masks`` switches on.

        Parameters
        ----------
        masks : (D, K) 0/1, one row per distinct perturbation; segments : (H, W) superpixel of each pixel, 0..K-1.
        image_hwc, hidden_hwc : (H, W, 3) the patch and the hide colour, as lime passes them.

        The samples are composed on the model's device, a batch at a time, so a GPU build moves one patch
        and the on/off rows there instead of every sample's pixels.  Each pixel is the patch's or the hide
        colour's float32 value, exactly as in lime's own composition.
        """
        device = model_device(self.model)

        def channels_first(array: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32)).permute(2, 0, 1).to(device)

        image, hidden = channels_first(image_hwc), channels_first(hidden_hwc)
        pixel_segments = torch.from_numpy(np.asarray(segments, dtype=np.int64)).to(device)
        switches = torch.from_numpy(np.asarray(masks, dtype=bool)).to(device)
        probabilities = []
        for start in range(0, len(switches), batch_size):
            keep = switches[start : start + batch_size][:, pixel_segments]  # (B, H, W)
            samples = torch.where(keep[:, None], image, hidden)
            self.forward_passes += len(samples)
            probabilities.append(predict_proba(self.model, samples, batch_size=batch_size, precision=self.precision))
        return torch.cat(probabilities).numpy()

    def _classifier_fn(self, batch_hwc: np.ndarray) -> np.ndarray:
        """(B, H, W, 3) float in [0, 1] -> (B, C) probabilities, same pixel space as training: lime's own
        interface, for lime's sampler (the build's samples go through :meth:`_predict_masks`)."""
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
        title="LIME",
        factory=Lime,
        default=True,
        signed=True,
        reference="Ribeiro, Singh & Guestrin, \"Why Should I Trust You?\": Explaining the Predictions of Any Classifier, KDD 2016",
    )
)
