"""report.json's ``stability`` section from what :mod:`reportgen.pipeline.stability` measured.

Presentation only (the cache does not depend on this module): means with their intervals over the
report's unit, and a table variant's verdicts by the report's verdict rule.  Each record is keyed by its
variant's name and named by what the variant varies (:class:`reportgen.explain.StabilityVariant`).
"""

from __future__ import annotations

import numpy as np

from reportgen.explain import list_stability_variants
from reportgen.explain.base import StabilityVariant
from reportgen.metrics.stability import outcomes_differ, similarity_word
from reportgen.metrics.stats import mean_with_interval
from reportgen.metrics.verdicts import CLAIM_METRICS, decide_claims, informative_means
from reportgen.pipeline.score import CurveSet
from reportgen.pipeline.stability import Repeatability, SettingPairs, SettingTable, StabilityOutcome


def table_family(varies: str) -> str:
    """The sentence a table record states about its family of claims, in the words of what it ``varies``.

    Decided before any result was seen: a table's other values' claims are a Holm family of their own, not
    part of the report's.  The table is evidence around the report's verdict on the method; had its rows
    joined the report's family, switching the table on or off would change every other verdict of
    the report.  The row of the value the report uses is the report's own claim on the same maps, so
    it carries the report's verdicts: one claim, one outcome, wherever it is stated.
    """
    return (f"The {varies} the report uses carries the report's own verdicts; the other {varies}s' claims are "
            "Holm-corrected among themselves (each against the random map by every metric), not over the "
            "report's, so the report's verdicts are unchanged by this table.")


def _similarity_record(similarity: dict[str, np.ndarray], seed: int, groups) -> dict:
    record = {key: mean_with_interval(values, seed=seed, groups=groups) for key, values in similarity.items()}
    record["reading"] = similarity_word(record["spearman"]["mean"])
    return record


def _subset(groups, mask: np.ndarray):
    return None if groups is None else np.asarray(groups, dtype=object)[mask]


def _table_section(table: SettingTable, varies: str, random_curves: CurveSet, masks: dict[str, np.ndarray], *,
                   groups, report_verdicts: list[dict], alpha: float, seed: int) -> dict:
    own = {v["metric"]: v for v in report_verdicts if (v["method"], v["against"]) == (table.method, "random")}
    claims = []
    for value, curves in table.curves.items():
        if value == table.used and own:
            continue  # the report's own claim, decided in the report's family
        for metric, (mode, higher_is_better) in CLAIM_METRICS.items():
            mask = masks[mode]
            claims.append({"method": f"{table.method}@{value}", "against": "random", "metric": metric,
                           "higher_is_better": higher_is_better, "patches": np.flatnonzero(mask),
                           "groups": _subset(groups, mask), "values": getattr(curves, metric)[mask],
                           "against_values": getattr(random_curves, metric)[mask]})
    verdicts = iter(decide_claims(claims, alpha=alpha, seed=seed))
    rows = []
    for value, curves in table.curves.items():
        reused = value == table.used and own
        rows.append({varies: value, **table.facts[value], "default": value == table.default, "used": value == table.used,
                     **informative_means(curves, masks, seed=seed, groups=groups),
                     "against_random": {metric: own[metric] if reused else next(verdicts) for metric in CLAIM_METRICS}})
    depends = {metric: outcomes_differ([row["against_random"][metric]["outcome"] for row in rows])
               for metric in CLAIM_METRICS}
    return {"method": table.method, f"default_{varies}": table.default, f"used_{varies}": table.used,
            "family": table_family(varies), "rows": rows, f"depends_on_{varies}": depends}


def _record(variant: StabilityVariant, measured, *, random_curves: CurveSet | None, masks: dict[str, np.ndarray],
            groups, report_verdicts: list[dict], alpha: float, seed: int) -> dict | None:
    """One variant's record, by its kind."""
    if isinstance(measured, Repeatability):
        return {"method": measured.method, "seed_rule": measured.seed_rule,
                **_similarity_record(measured.similarity, seed, groups)}
    if isinstance(measured, SettingPairs):
        return {"method": measured.method, "used": measured.used, f"{variant.varies}s": list(measured.results),
                "scores": {value: informative_means(curves, masks, seed=seed, groups=groups)
                           for value, curves in measured.curves.items()},
                "pairs": [{"a": a, "b": b, **_similarity_record(similarity, seed, groups)}
                          for a, b, similarity in measured.pairs]}
    if random_curves is None:
        return None
    return _table_section(measured, variant.varies, random_curves, masks, groups=groups,
                          report_verdicts=report_verdicts, alpha=alpha, seed=seed)


def stability_section(outcome: StabilityOutcome | None, *, random_curves: CurveSet | None,
                      masks: dict[str, np.ndarray], groups=None, report_verdicts: list[dict] = (), alpha: float,
                      seed: int) -> dict | None:
    """report.json's ``stability`` section (schema :class:`reportgen.schema.Stability`), or ``None`` when none ran.

    What each measurement cost is in ``provenance.timings`` (stage ``stability_<name>``), not here:
    the section holds what was measured, so two runs of the same build give the same section.

    Parameters
    ----------
    outcome : from :func:`stability_checks`.
    random_curves : the random reference map's curves, for a table's verdicts.
    masks : mode -> (N,) bool, the report's informative patches.
    groups : (N,) slide ids, the unit of intervals and tests as in the report's verdicts, or ``None``.
    report_verdicts : the report's verdicts; a table's row of the report's own value shows them.
    alpha, seed : the verdict rule's level and bootstrap seed.
    """
    if outcome is None:
        return None
    variants = list_stability_variants()
    section: dict = {"measures": [variant.name for variant in variants if variant.name in outcome.measured],
                     "skipped": dict(outcome.skipped), **{variant.name: None for variant in variants}}
    for variant in variants:
        if variant.name in outcome.measured:
            section[variant.name] = _record(variant, outcome.measured[variant.name], random_curves=random_curves,
                                            masks=masks, groups=groups, report_verdicts=list(report_verdicts),
                                            alpha=alpha, seed=seed)
    return section
