"""The report's "Stability of the explanations" section, from the document's ``stability`` record.

Each record is shown by its variant's kind, in the words the method declared for it (its title and what it varies,
:class:`reportgen.explain.StabilityVariant`).  Sentences read outcomes and readings the document already holds
(decided in :mod:`reportgen.pipeline.stability`); nothing here tests or thresholds a number.
"""

from __future__ import annotations

from dataclasses import dataclass

from reportgen.explain import list_stability_variants
from reportgen.explain.base import StabilityVariant
from reportgen.formatting import fmt_interval
from reportgen.judgement.reading import DIRECTIONS, OUTCOME_WORDS, SHORT_LABELS, method_title
from reportgen.schema import MapSimilarity, Record, ReportDocument, Verdict


@dataclass(frozen=True)
class TableRowView:
    """One value of a table variant (a layer, say), scored like a method, with the facts its maps record."""

    value: str
    facts: list[str]
    deletion: str
    insertion: str
    srg: str
    deletion_verdict: str
    insertion_verdict: str
    srg_verdict: str
    is_default: bool
    used: bool


@dataclass(frozen=True)
class TableView:
    """A table variant: the method at each value of one setting against the random map."""

    heading: str
    varies: str
    column: str
    fact_labels: list[str]
    rows: list[TableRowView]
    family: str


@dataclass(frozen=True)
class SimilarityRow:
    """Two map sets of the same patches compared: mean Spearman and top-10 % IoU with intervals."""

    label: str
    spearman: str
    iou: str


@dataclass(frozen=True)
class ScoresView:
    """A pairs variant's map sets scored: (value, deletion AUC, insertion AUC) per value."""

    heading: str
    rows: list[tuple[str, str, str]]


@dataclass(frozen=True)
class StabilityView:
    """Stability of the explanations: plain sentences first, then the tables behind them."""

    measures: str
    findings: list[str]
    tables: list[TableView]
    comparisons_heading: str
    comparisons: list[SimilarityRow]
    rules: list[str]
    scores: list[ScoresView]
    not_run: list[str]


#: The order the section shows the kinds in: the tables first, as they bear on the report's verdicts, then the
#: map comparisons.
SHOWN_ORDER = ("table", "seed", "pairs")
_METRICS = tuple((key, SHORT_LABELS[kind]) for kind, (key, _) in DIRECTIONS.items())


def _outcome(verdict: Verdict | None) -> str:
    return OUTCOME_WORDS.get(None if verdict is None else verdict.outcome, "n/a")


def _short_values(values: list[str]) -> dict[str, str]:
    """Each value by its stage when that keeps the values apart: ``backbone.layer4.1`` -> ``layer4``; any other
    value, and every value of a table whose stages repeat (``backbone.features.4``, ``backbone.features.7``), as
    it is."""
    def short(value: str) -> str:
        parts = value.split(".")
        return parts[1] if len(parts) == 3 and parts[0] == "backbone" else value

    shorts = {value: short(value) for value in values}
    return shorts if len(set(shorts.values())) == len(shorts) else {value: value for value in values}


def _table_sentences(title: str, variant: StabilityVariant, table: Record) -> list[str]:
    """``table``: a ``table`` variant's record (:data:`reportgen.schema.Stability`), its keys named by what it
    varies."""
    varies, rows = variant.varies, table.rows
    depends = getattr(table, f"depends_on_{varies}")
    sentences = []
    shorts = _short_values([str(getattr(row, varies)) for row in rows])
    if any(depends.values()):
        sentences.append(f"{title}'s verdict against the random map depends on the {varies}.")
    for metric, word in _METRICS:
        outcomes = [(row, _outcome(row.against_random.get(metric))) for row in rows]
        if depends.get(metric):
            parts = []
            for row, outcome in outcomes:
                details = [str(getattr(row, key)) for key in variant.facts] + (["the default"] if row.default else [])
                parts.append(f"{outcome} at {shorts[str(getattr(row, varies))]}"
                             + (f" ({', '.join(details)})" if details else ""))
            sentences.append(f"By {word}: {'; '.join(parts)}.")
        elif outcomes:
            sentences.append(f"By {word}, {title}'s outcome against the random map is the same at every {varies}: "
                             f"{outcomes[0][1]}.")
    return sentences


def _table_view(title: str, variant: StabilityVariant, table: Record) -> TableView:
    rows = []
    for row in table.rows:
        verdicts = row.against_random
        rows.append(TableRowView(
            value=str(getattr(row, variant.varies)), facts=[str(getattr(row, key)) for key in variant.facts],
            deletion=fmt_interval(row.deletion_auc), insertion=fmt_interval(row.insertion_auc),
            srg=fmt_interval(row.srg), deletion_verdict=_outcome(verdicts.get("deletion_auc")),
            insertion_verdict=_outcome(verdicts.get("insertion_auc")), srg_verdict=_outcome(verdicts.get("srg")),
            is_default=bool(row.default), used=bool(row.used)))
    return TableView(heading=f"{title} {variant.varies} table", varies=variant.varies,
                     column=variant.varies.capitalize(), fact_labels=list(variant.facts.values()), rows=rows,
                     family=str(table.family))


def _similarity_row(label: str, record: MapSimilarity) -> SimilarityRow:
    return SimilarityRow(label=label, spearman=fmt_interval(record.spearman, 2),
                         iou=fmt_interval(record.iou_top10, 2))


def stability_view(document: ReportDocument) -> StabilityView | None:
    """The section's view, or ``None`` when the document has no stability record."""
    stability = document.stability
    if stability is None:
        return None
    variants = list_stability_variants()
    shown = sorted(variants, key=lambda variant: SHOWN_ORDER.index(variant.kind))
    findings, tables, comparisons, rules, scores, compared = [], [], [], [], [], []
    for variant in shown:
        record = getattr(stability, variant.name)
        if record is None:
            continue
        title = method_title(document, record.method)
        if variant.kind == "table":
            findings.extend(_table_sentences(title, variant, record))
            tables.append(_table_view(title, variant, record))
        elif variant.kind == "seed":
            row = _similarity_row(f"{title}, first seed against second seed", record)
            comparisons.append(row)
            rules.append(f"{title} seeds: {record.seed_rule}.")
            compared.append("repeatability")
            findings.append(f"{title} run again with a second seed: the two maps of a patch {record.reading} "
                            f"(mean Spearman {row.spearman}; identical maps score 1).")
        else:
            pairs = record.pairs
            rows = [_similarity_row(f"{title}, {pair.a} against {pair.b}", pair) for pair in pairs]
            comparisons.extend(rows)
            compared.append(f"{variant.varies} sensitivity")
            readings = ", ".join(f"{pair.a} and {pair.b} {pair.reading} ({row.spearman})"
                                 for pair, row in zip(pairs, rows))
            findings.append(f"{title} from different {variant.varies}s (Spearman of the maps): {readings}.")
            scores.append(ScoresView(heading=f"{title} {variant.varies}", rows=[
                (value + (" (the report's)" if value == record.used else ""),
                 fmt_interval(values.deletion_auc), fmt_interval(values.insertion_auc))
                for value, values in record.scores.items()]))
    titles = {variant.name: variant.title for variant in variants}
    skipped, measured = stability.skipped, stability.measures
    not_run = [f"{titles.get(name, name)}: not run ({reason})." for name, reason in skipped.items()]
    not_run += [f"{variant.title}: not run (--stability {variant.name} or all runs it)." for variant in variants
                if variant.name not in measured and variant.name not in skipped]
    heading = " and ".join(dict.fromkeys(compared))
    return StabilityView(
        measures=", ".join(variant.title for variant in shown),
        findings=findings, tables=tables, comparisons_heading=heading[:1].upper() + heading[1:],
        comparisons=comparisons, rules=rules, scores=scores, not_run=not_run)
