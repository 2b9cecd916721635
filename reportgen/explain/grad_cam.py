"""Grad-CAM (Selvaraju et al., "Grad-CAM: Visual Explanations from Deep Networks via
Gradient-based Localization", ICCV 2017), via pytorch-grad-cam's ``GradCAM``.

Channel weights are the spatially averaged gradients of the target logit at
``target_layer`` (default the model's last convolutional block,
:func:`reportgen.model.feature_layers.default_cam_layer`: ``backbone.layer4.1`` for ResNet-18, 3x3
at 96 px input).
"""

from __future__ import annotations

from reportgen.explain._cam import CamExplainer
from reportgen.explain.base import ExplainerInfo, StabilityVariant, register

#: The layers of Grad-CAM's stability table for the PCam ResNet-18, the last basic block of layer2, layer3 and
#: layer4: what the table's rule (:func:`reportgen.model.feature_layers.stability_cam_layers`) gives for it, and
#: the variant's values without a model.
GRAD_CAM_LAYERS = ("backbone.layer2.1", "backbone.layer3.1", "backbone.layer4.1")


class GradCAM(CamExplainer):
    """Setting: ``target_layer`` (default the last convolutional block, ``"backbone.layer4.1"`` for ResNet-18).
    Maps are non-negative."""

    name = "grad_cam"
    #: Grad-CAM at three layers the model's own modules give by one rule
    #: (:func:`reportgen.model.feature_layers.stability_cam_layers`: the last block of each of a CNN's last three
    #: stages, for ResNet-18 the last block of layer2, layer3 and layer4, 12x12, 6x6 and 3x3 cells at 96 px; a
    #: ViT's first norm in three blocks spread over its depth, on the token grid), each scored like a method and
    #: tested against the random map by the verdict rule.  The report's Grad-CAM stays at its configured layer; the
    #: table is evidence around that verdict, not a choice.  A model the rule finds no layer in skips the table,
    #: saying why (:meth:`CamExplainer.variant_skip_reason`).
    stability_variants = (StabilityVariant(name="grad_cam_layers", title="Grad-CAM per layer", kind="table",
                                           setting="target_layer", values=GRAD_CAM_LAYERS, varies="layer",
                                           facts={"feature_map_size": "Feature map"}),)

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
