"""SmoothGrad (Smilkov et al., "SmoothGrad: removing noise by adding noise",
ICML Workshop 2017), via captum's ``NoiseTunnel`` over ``Saliency``.

Map: the mean over ``n_samples`` noisy copies of the absolute gradient of the
target logit, then the largest value over the three channels. The noise is
Gaussian with standard deviation ``stdev`` in [0, 1] pixel units (0.15 is 15%
of the input range, inside the paper's recommended 10-20%). Each image draws
its noise from its own seed, so a result does not depend on the batch.
"""

from __future__ import annotations

import numpy as np
from tqdm.auto import tqdm

from reportgen.explain._runtime import CountingForward, seeded_torch
from reportgen.explain._settings import check_float, check_int
from reportgen.explain.base import Explainer, ExplainerInfo, register
from reportgen.runtime import derive_seed


class SmoothGrad(Explainer):
    """Settings: ``n_samples`` (25), ``stdev`` (0.15). Up to ``batch_size`` noisy copies per pass."""

    name = "smoothgrad"
    defaults = {"n_samples": 25, "stdev": 0.15}
    setting_labels = {"n_samples": "Samples", "stdev": "Noise standard deviation"}

    @classmethod
    def _check_settings(cls, settings: dict) -> dict:
        check_int(cls.name, "n_samples", settings["n_samples"])
        settings["stdev"] = check_float(cls.name, "stdev", settings["stdev"])
        return settings

    def _details(self) -> dict:
        import captum

        return {"model_output": "logit", "channel_reduction": "max_abs", "noise": "gaussian", "captum": captum.__version__}

    def _attribute(self, images, targets):
        from captum.attr import NoiseTunnel, Saliency  # imported only when the method runs

        forward = CountingForward(self.model)
        tunnel = NoiseTunnel(Saliency(forward))
        n_samples = self.settings["n_samples"]
        maps = []
        for index in tqdm(range(len(images)), desc="smoothgrad", disable=not self.progress):
            with seeded_torch(derive_seed(self.seed, index), images.device):
                gradients = tunnel.attribute(
                    images[index : index + 1],
                    nt_type="smoothgrad",
                    nt_samples=n_samples,
                    nt_samples_batch_size=min(n_samples, self.batch_size),
                    stdevs=self.settings["stdev"],
                    target=targets[index : index + 1],
                    abs=True,
                )
            maps.append(gradients.detach().amax(dim=1)[0].cpu().numpy())
        self.forward_passes = forward.images
        self.backward_passes = n_samples * len(images)
        return np.stack(maps), None, None


register(
    ExplainerInfo(
        title="SmoothGrad",
        factory=SmoothGrad,
        default=False,
        signed=False,
        reference="Smilkov et al., SmoothGrad: removing noise by adding noise, ICML Workshop 2017",
    )
)
