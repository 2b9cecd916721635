"""Grad-CAM++ (Chattopadhay et al., "Grad-CAM++: Generalized Gradient-based Visual
Explanations for Deep Convolutional Networks", WACV 2018), via pytorch-grad-cam's
``GradCAMPlusPlus``.

Channel weights are positive gradients weighted by higher-order terms, which
spreads the map over several instances of a class instead of the strongest one.
"""

from __future__ import annotations

from reportgen.explain._cam import CamExplainer
from reportgen.explain.base import ExplainerInfo, register


class GradCAMPlusPlus(CamExplainer):
    """Setting: ``target_layer`` (default the last convolutional block, ``"backbone.layer4.1"`` for ResNet-18).
    Maps are non-negative."""

    name = "grad_cam_pp"

    @staticmethod
    def cam_class():
        from pytorch_grad_cam import GradCAMPlusPlus

        return GradCAMPlusPlus


register(
    ExplainerInfo(
        title="Grad-CAM++",
        factory=GradCAMPlusPlus,
        default=False,
        signed=False,
        reference="Chattopadhay et al., Grad-CAM++: Generalized Gradient-based Visual Explanations, WACV 2018",
    )
)
