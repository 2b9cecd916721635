"""The notebook's options, kept as shorthands for method settings.

Kept apart from the methods, and free of torch, so that the command line offers them without loading the
explainers; ``tests/test_explain_registry.py`` checks every target against the registry and its defaults.
"""

from __future__ import annotations

#: Option name -> (the ``method.setting`` targets it sets, the help of its ``--option-name`` flag, or ``None`` for
#: a configuration key that is no longer an option and only gets an error saying where it moved).
SHORTHANDS: dict[str, tuple[tuple[str, ...], str | None]] = {
    "ig_steps": (("integrated_gradients.n_steps",), "Integrated Gradients steps (default 50)"),
    "ig_baseline": (("integrated_gradients.baseline",), None),
    "grad_cam_layer": (("grad_cam.target_layer", "grad_cam_pp.target_layer"),
                       "Grad-CAM target layer (default backbone.layer4.1) on ResNet-18; on another CNN its last "
                       "convolutional block"),
    "lime_samples": (("lime.num_samples",), "LIME samples per patch (default 1000)"),
}
