"""Vanilla gradient saliency (Simonyan, Vedaldi & Zisserman, "Deep Inside
Convolutional Networks: Visualising Image Classification Models and Saliency
Maps", ICLR Workshop 2014), via captum's ``Saliency``.

Map: the largest absolute gradient of the target logit over the three
channels at each pixel, as in the paper. Not signed.
"""

from __future__ import annotations

import torch

from reportgen.explain._runtime import CountingForward
from reportgen.explain.base import Explainer, ExplainerInfo, register


class Saliency(Explainer):
    """No method-specific settings; ``batch_size`` images per forward/backward."""

    name = "saliency"

    def _details(self) -> dict:
        import captum

        return {"model_output": "logit", "channel_reduction": "max_abs", "captum": captum.__version__}

    def _attribute(self, images, targets):
        from captum.attr import Saliency as CaptumSaliency  # imported only when the method runs

        forward = CountingForward(self.model)
        saliency = CaptumSaliency(forward)
        maps = []
        for start in range(0, len(images), self.batch_size):
            stop = start + self.batch_size
            gradients = saliency.attribute(images[start:stop].clone().requires_grad_(True), target=targets[start:stop], abs=True)
            maps.append(gradients.detach().amax(dim=1).cpu())
        self.forward_passes = forward.images
        self.backward_passes = len(images)
        return torch.cat(maps).numpy(), None, None


register(
    ExplainerInfo(
        title="Gradient saliency",
        factory=Saliency,
        default=False,
        signed=False,
        reference="Simonyan, Vedaldi & Zisserman, Deep Inside Convolutional Networks, ICLR Workshop 2014",
    )
)
