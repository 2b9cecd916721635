"""Grad-CAM (Selvaraju et al., "Grad-CAM: Visual Explanations from Deep Networks via
Gradient-based Localization", ICCV 2017), via pytorch-grad-cam's ``GradCAM``.

Channel weights are the spatially averaged gradients of the target logit at
``target_layer`` (default ``backbone.layer4.1``, 3x3 at 96 px input).
"""

from __future__ import annotations

from reportgen.explain._cam import CamExplainer
from reportgen.explain.base import ExplainerInfo, register


class GradCAM(CamExplainer):
    """Setting: ``target_layer`` (default ``"backbone.layer4.1"``). Maps are non-negative."""

    name = "grad_cam"

    @staticmethod
    def cam_class():
        from pytorch_grad_cam import GradCAM

        return GradCAM


register(
    ExplainerInfo(
        title="Grad-CAM",
        factory=GradCAM,
        default=True,
        signed=False,
        reference="Selvaraju et al., Grad-CAM: Visual Explanations from Deep Networks via Gradient-based Localization, ICCV 2017",
    )
)
