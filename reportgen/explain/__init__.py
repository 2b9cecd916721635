"""Explanation methods and their registry.

Defaults (docs/metrics.md#method-settings): ``integrated_gradients``, ``grad_cam``, ``lime``.
Extra, by name with ``--methods``: ``saliency``, ``smoothgrad``, ``occlusion``,
``kernel_shap``, ``grad_cam_pp``.

The methods register themselves the first time the registry is read
(:data:`reportgen.explain.base.METHOD_MODULES`), so importing this package, or a torch-free module in it
such as :mod:`reportgen.explain.shorthands`, loads neither torch nor the explanation libraries.
"""

__all__ = ["Explainer", "ExplainerInfo", "Explanation", "StabilityVariant", "get_explainer", "list_explainers",
           "list_stability_variants", "register", "unregister"]


def __getattr__(name: str):
    # The public names live in reportgen.explain.base, which imports torch: load it when one is first used.
    if name in __all__:
        from reportgen.explain import base

        return getattr(base, name)
    raise AttributeError(f"module 'reportgen.explain' has no attribute {name!r}")
