"""The report's "Stability of the explanations" section, from the document's ``stability`` record.

Sentences read outcomes and readings the document already holds (decided in
:mod:`reportgen.pipeline.stability`); nothing here tests or thresholds a number.
"""

from __future__ import annotations

from dataclasses import dataclass

from reportgen.formatting import fmt_interval
from reportgen.judgement.reading import DIRECTIONS, OUTCOME_WORDS, SHORT_LABELS, method_title


@dataclass(frozen=True)
class LayerRowView:
    """One Grad-CAM layer of the stability table, scored like a method."""

    layer: str
    feature_map_size: str
    deletion: str
    insertion: str
    srg: str
    deletion_verdict: str
    insertion_verdict: str
    srg_verdict: str
    is_default: bool
    used: bool


@dataclass(frozen=True)
class SimilarityRow:
    """Two map sets of the same patches compared: mean Spearman and top-10 % IoU with intervals."""

    label: str
    spearman: str
    iou: str


@dataclass(frozen=True)
class StabilityView:
    """Stability of the explanations: plain sentences first, then the tables behind them."""

    findings: list[str]
    layer_rows: list[LayerRowView]
    layer_family: str
    lime: SimilarityRow | None
    lime_rule: str
    ig_pairs: list[SimilarityRow]
    ig_scores: list[tuple[str, str, str]]
    not_run: list[str]


#: How the section names each measurement that was not run.
MEASURE_TITLES = {"lime_seeds": "LIME under a second seed", "ig_baselines": "Integrated Gradients per baseline",
                  "grad_cam_layers": "Grad-CAM per layer"}
_METRICS = tuple((key, SHORT_LABELS[kind]) for kind, (key, _) in DIRECTIONS.items())


def _outcome(verdict: dict | None) -> str:
    return OUTCOME_WORDS.get((verdict or {}).get("outcome"), "n/a")


def _short_layer(layer: str) -> str:
    """``backbone.layer4.1`` -> ``layer4``."""
    parts = layer.split(".")
    return parts[1] if len(parts) == 3 and parts[0] == "backbone" else layer


def _layer_sentences(document: dict, table: dict) -> list[str]:
    title = method_title(document, table.get("method", "grad_cam"))
    rows = table.get("rows") or []
    depends = table.get("depends_on_layer") or {}
    sentences = []
    if any(depends.values()):
        sentences.append(f"{title}'s verdict against the random map depends on the layer.")
    for metric, word in _METRICS:
        outcomes = [(row, _outcome((row.get("against_random") or {}).get(metric))) for row in rows]
        if depends.get(metric):
            parts = "; ".join(f"{outcome} at {_short_layer(row['layer'])} ({row.get('feature_map_size')}"
                              f"{', the default' if row.get('default') else ''})" for row, outcome in outcomes)
            sentences.append(f"By {word}: {parts}.")
        elif outcomes:
            sentences.append(f"By {word}, {title}'s outcome against the random map is the same at every layer: "
                             f"{outcomes[0][1]}.")
    return sentences


def _similarity_row(label: str, record: dict) -> SimilarityRow:
    return SimilarityRow(label=label, spearman=fmt_interval(record.get("spearman"), 2),
                         iou=fmt_interval(record.get("iou_top10"), 2))


def stability_view(document: dict) -> StabilityView | None:
    """The section's view, or ``None`` when the document has no stability record."""
    stability = document.get("stability")
    if not stability:
        return None
    findings: list[str] = []
    layer_rows: list[LayerRowView] = []
    table = stability.get("grad_cam_layers")
    if table:
        findings.extend(_layer_sentences(document, table))
        for row in table.get("rows") or []:
            verdicts = row.get("against_random") or {}
            layer_rows.append(LayerRowView(
                layer=str(row.get("layer")), feature_map_size=str(row.get("feature_map_size")),
                deletion=fmt_interval(row.get("deletion_auc")), insertion=fmt_interval(row.get("insertion_auc")),
                srg=fmt_interval(row.get("srg")), deletion_verdict=_outcome(verdicts.get("deletion_auc")),
                insertion_verdict=_outcome(verdicts.get("insertion_auc")), srg_verdict=_outcome(verdicts.get("srg")),
                is_default=bool(row.get("default")), used=bool(row.get("used"))))
    lime_row, lime_rule = None, ""
    lime = stability.get("lime_seeds")
    if lime:
        title = method_title(document, lime.get("method", "lime"))
        lime_row, lime_rule = _similarity_row(f"{title}, first seed against second seed", lime), str(lime.get("seed_rule", ""))
        findings.append(f"{title} run again with a second seed: the two maps of a patch {lime.get('reading')} "
                        f"(mean Spearman {lime_row.spearman}; identical maps score 1).")
    ig_pairs, ig_scores = [], []
    ig = stability.get("ig_baselines")
    if ig:
        title = method_title(document, ig.get("method", "integrated_gradients"))
        ig_pairs = [_similarity_row(f"{pair['a']} against {pair['b']}", pair) for pair in ig.get("pairs") or []]
        readings = ", ".join(f"{pair['a']} and {pair['b']} {pair.get('reading')} ({row.spearman})"
                             for pair, row in zip(ig.get("pairs") or [], ig_pairs))
        findings.append(f"{title} from different baselines (Spearman of the maps): {readings}.")
        ig_scores = [(baseline + (" (the report's)" if baseline == ig.get("used") else ""),
                      fmt_interval(scores.get("deletion_auc")), fmt_interval(scores.get("insertion_auc")))
                     for baseline, scores in (ig.get("scores") or {}).items()]
    not_run = [f"{MEASURE_TITLES.get(name, name)}: not run ({reason})."
               for name, reason in (stability.get("skipped") or {}).items()]
    not_run += [f"{title}: not run (--stability {name} or all runs it)." for name, title in MEASURE_TITLES.items()
                if name not in (stability.get("measures") or []) and name not in (stability.get("skipped") or {})]
    return StabilityView(findings=findings, layer_rows=layer_rows, layer_family=str((table or {}).get("family", "")),
                         lime=lime_row, lime_rule=lime_rule, ig_pairs=ig_pairs, ig_scores=ig_scores, not_run=not_run)
