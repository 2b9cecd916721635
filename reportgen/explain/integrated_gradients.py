"""Integrated Gradients (Sundararajan, Taly & Yan, "Axiomatic Attribution for Deep
Networks", ICML 2017), via captum's ``IntegratedGradients``.

Attributions are of the target logit (softmax saturates and would flatten the
path integral). The raw map is the mean absolute attribution over the three
channels (METRICS.md), so it is not signed. The completeness delta
``sum(attr) - (F(x) - F(baseline))`` of each image is kept in
``extras["completeness_delta"]``: a large one means too few steps.
"""

from __future__ import annotations

import numpy as np

from reportgen.explain._runtime import CountingForward
from reportgen.explain._settings import check_choice, check_int
from reportgen.explain.base import Explainer, ExplainerInfo, register
from reportgen.explain.baselines import BASELINES, make_baseline


class IntegratedGradients(Explainer):
    """Settings: ``n_steps`` (50), ``baseline`` ("black" | "white" | "blur"; default "black").

    The blur baseline is the image blurred with a Gaussian (kernel 11, sigma 5,
    reflect padding), the same blur as the curves' blur substrate (METRICS.md). ``batch_size`` is captum's ``internal_batch_size``:
    the number of path points per forward/backward, which bounds memory.
    """

    name = "integrated_gradients"
    defaults = {"n_steps": 50, "baseline": "black"}

    @classmethod
    def _check_settings(cls, settings: dict) -> dict:
        check_int(cls.name, "n_steps", settings["n_steps"])
        check_choice(cls.name, "baseline", settings["baseline"], BASELINES)
        return settings

    def _details(self) -> dict:
        import captum

        return {
            "model_output": "logit",
            "integration": "gausslegendre",
            "channel_reduction": "mean_abs",
            "captum": captum.__version__,
        }

    def _attribute(self, images, targets):
        # captum is imported here, not at registration: a rebuild served from the cache never loads it.
        from captum.attr import IntegratedGradients as CaptumIntegratedGradients

        n_steps = self.settings["n_steps"]
        forward = CountingForward(self.model)
        integrated_gradients = CaptumIntegratedGradients(forward)
        maps, deltas = [], []
        # captum needs internal_batch_size >= images per call, so images go in chunks of batch_size.
        for start in range(0, len(images), self.batch_size):
            chunk = images[start : start + self.batch_size]
            attributions, delta = integrated_gradients.attribute(
                chunk,
                baselines=make_baseline(chunk, self.settings["baseline"]),
                target=targets[start : start + self.batch_size],
                n_steps=n_steps,
                method="gausslegendre",
                internal_batch_size=self.batch_size,
                return_convergence_delta=True,
            )
            maps.append(attributions.detach().abs().mean(dim=1).cpu().numpy())
            deltas.append(delta.detach().float().cpu().numpy())
        self.forward_passes = forward.images
        self.backward_passes = n_steps * len(images)
        extras = {"completeness_delta": np.concatenate(deltas).astype(np.float32)}
        return np.concatenate(maps), None, extras

register(
    ExplainerInfo(
        name="integrated_gradients",
        title="Integrated Gradients",
        factory=IntegratedGradients,
        default=True,
        signed=False,
        reference="Sundararajan, Taly & Yan, Axiomatic Attribution for Deep Networks, ICML 2017",
    )
)
