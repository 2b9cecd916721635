"""Occlusion (Zeiler & Fergus, "Visualizing and Understanding Convolutional
Networks", ECCV 2014), via captum's ``Occlusion``.

A ``window`` x ``window`` patch (all three channels) set to ``baseline`` slides
with ``stride``; each pixel gets the mean drop in the target's softmax
probability over the windows that cover it. Signed (a negative value means
hiding the region raised the probability). Gradient-free, so ``precision``
applies; ``batch_size`` occluded images per forward (``perturbations_per_eval``).
"""

from __future__ import annotations

import numpy as np
from tqdm.auto import tqdm

from reportgen.errors import ConfigError
from reportgen.explain._runtime import CountingForward
from reportgen.explain._settings import check_float, check_int
from reportgen.explain.base import Explainer, ExplainerInfo, register


class Occlusion(Explainer):
    """Settings: ``window`` (8), ``stride`` (4), ``baseline`` (0.0, black)."""

    name = "occlusion"
    defaults = {"window": 8, "stride": 4, "baseline": 0.0}
    setting_labels = {"baseline": "Baseline", "window": "Occlusion window (pixels)", "stride": "Occlusion stride (pixels)"}

    @classmethod
    def _check_settings(cls, settings: dict) -> dict:
        check_int(cls.name, "window", settings["window"])
        check_int(cls.name, "stride", settings["stride"])
        settings["baseline"] = check_float(cls.name, "baseline", settings["baseline"], maximum=1.0)
        return settings

    def _details(self) -> dict:
        import captum

        return {"model_output": "probability", "channel_reduction": "mean", "captum": captum.__version__}

    def _attribute(self, images, targets):
        window, stride = self.settings["window"], self.settings["stride"]
        if window > min(images.shape[-2:]):
            raise ConfigError(
                f"{self.name}: setting window={window} is larger than the {images.shape[-2]}x{images.shape[-1]} "
                f"image; use a window <= {min(images.shape[-2:])}"
            )
        from captum.attr import Occlusion as CaptumOcclusion  # imported only when the method runs

        forward = CountingForward(self.model, precision=self.precision, softmax=True)
        occlusion = CaptumOcclusion(forward)
        maps = []
        for index in tqdm(range(len(images)), desc="occlusion", disable=not self.progress):
            attributions = occlusion.attribute(
                images[index : index + 1],
                sliding_window_shapes=(3, window, window),
                strides=(3, stride, stride),
                baselines=self.settings["baseline"],
                target=targets[index : index + 1],
                perturbations_per_eval=self.batch_size,
            )
            maps.append(attributions.detach().float().mean(dim=1)[0].cpu().numpy())
        self.forward_passes = forward.images
        return np.stack(maps), None, None


register(
    ExplainerInfo(
        title="Occlusion",
        factory=Occlusion,
        default=False,
        signed=True,
        reference="Zeiler & Fergus, Visualizing and Understanding Convolutional Networks, ECCV 2014",
    )
)
