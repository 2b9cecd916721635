"""KernelSHAP (Lundberg & Lee, "A Unified Approach to Interpreting Model
Predictions", NeurIPS 2017), via captum's ``KernelShap``.

Features are the same quickshift superpixels LIME uses (same parameters and
per-image seed), so the two are directly comparable; a hidden superpixel is
set to ``hide_color`` (0, black). Each superpixel's Shapley estimate for the
target's softmax probability is painted onto its pixels (signed).
Gradient-free, so ``precision`` applies; ``batch_size`` coalitions per forward.
"""

from __future__ import annotations

import numpy as np
import torch
from tqdm.auto import tqdm

from reportgen.explain._runtime import CountingForward, seeded_torch
from reportgen.explain._settings import check_float, check_int
from reportgen.explain._superpixels import QUICKSHIFT_DEFAULTS, SuperpixelExplainer, quickshift_segments
from reportgen.explain.base import ExplainerInfo, register
from reportgen.runtime import derive_seed


class KernelShap(SuperpixelExplainer):
    """Settings: ``n_samples`` (200), ``hide_color`` (0.0), quickshift ``kernel_size`` (4),
    ``max_dist`` (200), ``ratio`` (0.2)."""

    name = "kernel_shap"
    defaults = {"n_samples": 200, "hide_color": 0.0, **QUICKSHIFT_DEFAULTS}
    setting_labels = {"n_samples": "Samples", "segmentation": "Superpixel segmentation"}

    @classmethod
    def _check_settings(cls, settings: dict) -> dict:
        check_int(cls.name, "n_samples", settings["n_samples"], minimum=2)
        settings["hide_color"] = check_float(cls.name, "hide_color", settings["hide_color"], maximum=1.0)
        for key in QUICKSHIFT_DEFAULTS:
            check_float(cls.name, key, settings[key], minimum=0.0, inclusive=key == "ratio")
        return settings

    def _details(self) -> dict:
        import captum

        return {
            "segmentation": "quickshift",
            "model_output": "probability",
            "seeds": "numpy SeedSequence([seed, image_index]) for quickshift and torch sampling",
            "captum": captum.__version__,
        }

    def _attribute(self, images, targets):
        from captum.attr import KernelShap as CaptumKernelShap  # imported only when the method runs

        forward = CountingForward(self.model, precision=self.precision, softmax=True)
        shap = CaptumKernelShap(forward)
        pixels = images.permute(0, 2, 3, 1).double().cpu().numpy()
        quickshift = {key: self.settings[key] for key in QUICKSHIFT_DEFAULTS}
        maps, n_superpixels = [], []
        for index in tqdm(range(len(images)), desc="kernel_shap", disable=not self.progress):
            seed = derive_seed(self.seed, index)
            segments = quickshift_segments(pixels[index], seed=seed, **quickshift)
            mask = torch.from_numpy(segments).to(images.device)[None, None].expand(1, 3, -1, -1)
            if segments.max() == 0:
                maps.append(self._single_superpixel(forward, images[index : index + 1], int(targets[index])))
                n_superpixels.append(1)
                continue
            with seeded_torch(seed, images.device):
                attributions = shap.attribute(
                    images[index : index + 1],
                    baselines=self.settings["hide_color"],
                    target=targets[index : index + 1],
                    feature_mask=mask,
                    n_samples=self.settings["n_samples"],
                    perturbations_per_eval=self.batch_size,
                )
            maps.append(attributions.detach().float()[0, 0].cpu().numpy())
            n_superpixels.append(int(segments.max()) + 1)
        self.forward_passes = forward.images
        return np.stack(maps), None, {"n_superpixels": np.asarray(n_superpixels, dtype=np.int64)}

    def _single_superpixel(self, forward, image, target: int) -> np.ndarray:
        """(H, W) map of an image that is one superpixel: its Shapley value is f(x) - f(baseline).

        captum cannot sample coalitions of a single feature, and needs not: the
        value is exact.
        """
        with torch.no_grad():
            probabilities = forward(torch.cat([image, torch.full_like(image, self.settings["hide_color"])]))
        value = float(probabilities[0, target] - probabilities[1, target])
        return np.full(image.shape[-2:], value, dtype=np.float32)


register(
    ExplainerInfo(
        title="KernelSHAP",
        factory=KernelShap,
        default=False,
        signed=True,
        reference="Lundberg & Lee, A Unified Approach to Interpreting Model Predictions, NeurIPS 2017",
    )
)
