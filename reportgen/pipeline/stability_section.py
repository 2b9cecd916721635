"""report.json's ``stability`` section from what :mod:`reportgen.pipeline.stability` measured.

Presentation only (the cache does not depend on this module): means with their intervals over the
report's unit, and the layer table's verdicts by the report's verdict rule.
"""

from __future__ import annotations

import numpy as np

from reportgen.metrics.stability import outcomes_differ, similarity_word
from reportgen.metrics.stats import mean_with_interval
from reportgen.metrics.verdicts import CLAIM_METRICS, decide_claims, informative_means
from reportgen.pipeline.score import CurveSet
from reportgen.pipeline.stability import MEASURE_METHODS, LayerTable, StabilityOutcome

#: Decided before any result was seen: the other layers' claims are a Holm family of their own, not
#: part of the report's.  The table is evidence around the report's Grad-CAM verdict; had its rows
#: joined the report's family, switching the table on or off would change every other verdict of
#: the report.  The row of the layer the report uses is the report's own claim on the same maps, so
#: it carries the report's verdicts: one claim, one outcome, wherever it is stated.
LAYER_FAMILY = ("The layer the report uses carries the report's own verdicts; the other layers' claims are "
                "Holm-corrected among themselves (each against the random map by every metric), not over the "
                "report's, so the report's verdicts are unchanged by this table.")



def _similarity_record(similarity: dict[str, np.ndarray], seed: int, groups) -> dict:
    record = {key: mean_with_interval(values, seed=seed, groups=groups) for key, values in similarity.items()}
    record["reading"] = similarity_word(record["spearman"]["mean"])
    return record


def _subset(groups, mask: np.ndarray):
    return None if groups is None else np.asarray(groups, dtype=object)[mask]


def _layer_section(table: LayerTable, random_curves: CurveSet, masks: dict[str, np.ndarray], *, groups,
                   report_verdicts: list[dict], alpha: float, seed: int) -> dict:
    own = {v["metric"]: v for v in report_verdicts if (v["method"], v["against"]) == (table.method, "random")}
    claims = []
    for layer, curves in table.curves.items():
        if layer == table.used_layer and own:
            continue  # the report's own claim, decided in the report's family
        for metric, (mode, higher_is_better) in CLAIM_METRICS.items():
            mask = masks[mode]
            claims.append({"method": f"{table.method}@{layer}", "against": "random", "metric": metric,
                           "higher_is_better": higher_is_better, "patches": np.flatnonzero(mask),
                           "groups": _subset(groups, mask), "values": getattr(curves, metric)[mask],
                           "against_values": getattr(random_curves, metric)[mask]})
    verdicts = iter(decide_claims(claims, alpha=alpha, seed=seed))
    rows = []
    for layer, curves in table.curves.items():
        reused = layer == table.used_layer and own
        rows.append({"layer": layer, "feature_map_size": table.feature_map_sizes[layer],
                     "default": layer == table.default_layer, "used": layer == table.used_layer,
                     **informative_means(curves, masks, seed=seed, groups=groups),
                     "against_random": {metric: own[metric] if reused else next(verdicts) for metric in CLAIM_METRICS}})
    depends = {metric: outcomes_differ([row["against_random"][metric]["outcome"] for row in rows])
               for metric in CLAIM_METRICS}
    return {"method": table.method, "default_layer": table.default_layer, "used_layer": table.used_layer,
            "family": LAYER_FAMILY, "rows": rows, "depends_on_layer": depends}


def stability_section(outcome: StabilityOutcome | None, *, random_curves: CurveSet | None,
                      masks: dict[str, np.ndarray], groups=None, report_verdicts: list[dict] = (), alpha: float,
                      seed: int) -> dict | None:
    """report.json's ``stability`` section (schema :class:`reportgen.schema.Stability`), or ``None`` when none ran.

    What each measurement cost is in ``provenance.timings`` (stage ``stability_<name>``), not here:
    the section holds what was measured, so two runs of the same build give the same section.

    Parameters
    ----------
    outcome : from :func:`stability_checks`.
    random_curves : the random reference map's curves, for the layer table's verdicts.
    masks : mode -> (N,) bool, the report's informative patches.
    groups : (N,) slide ids, the unit of intervals and tests as in the report's verdicts, or ``None``.
    report_verdicts : the report's verdicts; the layer table's row of the report's own layer shows them.
    alpha, seed : the verdict rule's level and bootstrap seed.
    """
    if outcome is None:
        return None
    section: dict = {"measures": [name for name in MEASURE_METHODS if getattr(outcome, name) is not None],
                     "skipped": dict(outcome.skipped), "lime_seeds": None, "ig_baselines": None,
                     "grad_cam_layers": None}
    if outcome.lime_seeds is not None:
        lime = outcome.lime_seeds
        section["lime_seeds"] = {"method": lime.method, "seed_rule": lime.seed_rule,
                                 **_similarity_record(lime.similarity, seed, groups)}
    if outcome.ig_baselines is not None:
        ig = outcome.ig_baselines
        section["ig_baselines"] = {
            "method": ig.method, "used": ig.used, "baselines": list(ig.results),
            "scores": {baseline: informative_means(curves, masks, seed=seed, groups=groups)
                       for baseline, curves in ig.curves.items()},
            "pairs": [{"a": a, "b": b, **_similarity_record(similarity, seed, groups)}
                      for a, b, similarity in ig.pairs],
        }
    if outcome.grad_cam_layers is not None and random_curves is not None:
        section["grad_cam_layers"] = _layer_section(outcome.grad_cam_layers, random_curves, masks, groups=groups,
                                                    report_verdicts=list(report_verdicts), alpha=alpha, seed=seed)
    return section
