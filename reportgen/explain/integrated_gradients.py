"""Integrated Gradients (Sundararajan, Taly & Yan, "Axiomatic Attribution for Deep
Networks", ICML 2017), via captum's ``IntegratedGradients``.

Attributions are of the target logit F (softmax saturates and would flatten the
path integral). The raw map is the mean absolute attribution over the three
channels (docs/metrics.md#integrated-gradients), so it is not signed.

Completeness (the paper's Proposition 1) says the attributions add up to
F(x) - F(baseline); captum's convergence delta ``sum(attr) - (F(x) - F(baseline))``
measures how far the numerical integral misses it.  Its sign differs from patch to
patch, so a mean of signed deltas lets errors cancel; each patch therefore keeps
``extras["abs_completeness_delta"]`` = |delta| (logit units) and
``extras["relative_completeness_delta"]`` = |delta| / |F(x) - F(baseline)| (nan when
F(x) = F(baseline)), and :meth:`IntegratedGradients.summary_warnings` warns when the
median relative delta exceeds :data:`RELATIVE_DELTA_WARNING`.
"""

from __future__ import annotations

import numpy as np
import torch

from reportgen.explain._runtime import CountingForward
from reportgen.explain._settings import check_choice, check_int
from reportgen.explain.base import Explainer, ExplainerInfo, StabilityVariant, register
from reportgen.explain.baselines import BASELINES, make_baseline

#: Median |delta| / |F(x) - F(baseline)| above which the report warns.  Sundararajan et al.
#: (2017, section 5) take the integral as approximated when the attributions add up to within 5 %
#: of F(x) - F(baseline); the median, not the mean, so one patch whose F(x) and F(baseline)
#: nearly coincide (a tiny denominator) cannot raise the warning alone.
RELATIVE_DELTA_WARNING = 0.05


class IntegratedGradients(Explainer):
    """Settings: ``n_steps`` (50), ``baseline`` ("black" | "white" | "blur"; default "black").

    The blur baseline is the image blurred with a Gaussian (kernel 11, sigma 5,
    reflect padding), the same blur as the curves' blur substrate (docs/metrics.md#substrates). ``batch_size`` is captum's ``internal_batch_size``:
    the number of path points per forward/backward, which bounds memory.
    """

    name = "integrated_gradients"
    defaults = {"n_steps": 50, "baseline": "black"}
    setting_labels = {"baseline": "Baseline", "n_steps": "Integration steps"}
    #: Maps from the black, white and blur baselines: every pair compared, and each baseline's maps scored by
    #: deletion, insertion and SRG like a method.  Opt-in: it adds about a third to the default build.
    stability_variants = (StabilityVariant(name="ig_baselines", title="Integrated Gradients per baseline", kind="pairs",
                                           setting="baseline", values=BASELINES, varies="baseline", default=False),)
    extra_labels = {
        "abs_completeness_delta": "Completeness gap |sum of attributions - (F(x) - F(baseline))| (logit), mean",
        "relative_completeness_delta": "Completeness gap relative to |F(x) - F(baseline)|, mean",
    }

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
        maps, deltas, gaps = [], [], []
        # captum needs internal_batch_size >= images per call, so images go in chunks of batch_size.
        for start in range(0, len(images), self.batch_size):
            chunk, chunk_targets = images[start : start + self.batch_size], targets[start : start + self.batch_size]
            baselines = make_baseline(chunk, self.settings["baseline"])
            attributions, delta = integrated_gradients.attribute(
                chunk,
                baselines=baselines,
                target=chunk_targets,
                n_steps=n_steps,
                method="gausslegendre",
                internal_batch_size=self.batch_size,
                return_convergence_delta=True,
            )
            maps.append(attributions.detach().abs().mean(dim=1).cpu().numpy())
            deltas.append(delta.detach().double().cpu().numpy())
            gaps.append(_output_gap(forward, chunk, baselines, chunk_targets))
        self.forward_passes = forward.images
        self.backward_passes = n_steps * len(images)
        return np.concatenate(maps), None, completeness_extras(np.concatenate(deltas), np.concatenate(gaps))

    @classmethod
    def summary_warnings(cls, extras: dict[str, np.ndarray]) -> list[str]:
        """A warning when the median relative completeness delta exceeds :data:`RELATIVE_DELTA_WARNING`."""
        relative = np.asarray(extras.get("relative_completeness_delta", []), dtype=np.float64)
        relative = relative[np.isfinite(relative)]
        if len(relative) == 0 or np.median(relative) <= RELATIVE_DELTA_WARNING:
            return []
        return [f"the attributions miss completeness: median |delta| / |F(x) - F(baseline)| is "
                f"{np.median(relative):.2f} (over {RELATIVE_DELTA_WARNING:.0%}, the paper's convergence "
                "criterion; F is the target logit), so the integral is not converged; raise n_steps"]


def _output_gap(forward, images, baselines, targets) -> np.ndarray:
    """(B,) float64 F(x) - F(baseline) of the target logit: the total completeness asks the attributions for."""
    with torch.no_grad():
        both = forward(torch.cat([images, baselines])).double()
    picked = both.gather(1, torch.cat([targets, targets])[:, None])[:, 0].cpu().numpy()
    return picked[: len(images)] - picked[len(images) :]


def completeness_extras(deltas: np.ndarray, gaps: np.ndarray) -> dict[str, np.ndarray]:
    """Per-image completeness diagnostics from captum's signed ``deltas`` (N,) and ``gaps`` (N,).

    Returns ``{"abs_completeness_delta": |delta|, "relative_completeness_delta":
    |delta| / |F(x) - F(baseline)|}``, each (N,) float32; the relative one is nan
    where F(x) = F(baseline), since no share of nothing can be stated.
    """
    magnitude = np.abs(np.asarray(deltas, dtype=np.float64))
    scale = np.abs(np.asarray(gaps, dtype=np.float64))
    relative = np.divide(magnitude, scale, out=np.full_like(magnitude, np.nan), where=scale > 0)
    return {"abs_completeness_delta": magnitude.astype(np.float32),
            "relative_completeness_delta": relative.astype(np.float32)}


register(
    ExplainerInfo(
        title="Integrated Gradients",
        factory=IntegratedGradients,
        default=True,
        signed=False,
        reference="Sundararajan, Taly & Yan, Axiomatic Attribution for Deep Networks, ICML 2017",
    )
)
