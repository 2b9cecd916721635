"""Explanation methods; importing this package registers all of them.

Defaults (docs/metrics.md#method-settings): ``integrated_gradients``, ``grad_cam``, ``lime``.
Extra, by name with ``--methods``: ``saliency``, ``smoothgrad``, ``occlusion``,
``kernel_shap``, ``grad_cam_pp``.
"""

# isort: skip_file
# The order of these imports is the registry's order, which is the report's order of methods.
from reportgen.explain.base import (Explainer, ExplainerInfo, Explanation, get_explainer, list_explainers, register,
                                    unregister)
from reportgen.explain import integrated_gradients, grad_cam, lime  # noqa: F401  (registers defaults)
from reportgen.explain import saliency, smoothgrad, occlusion, kernel_shap, grad_cam_pp  # noqa: F401

__all__ = ["Explainer", "ExplainerInfo", "Explanation", "get_explainer", "list_explainers", "register", "unregister"]
