"""The whole of ``report.json``: its top-level keys and their types, what each holds in words, and the reading
of a key's type (:func:`section_type`, :func:`section_keys`) that the key table and the tests use."""

from __future__ import annotations

import dataclasses
from typing import Any

from reportgen.explain import list_stability_variants
from reportgen.schema.faithfulness import (
    Agreement,
    Informative,
    Localisation,
    MethodSection,
    ScoredMap,
    SubstrateScope,
    Verdict,
)
from reportgen.schema.model import DataSection, ImageRecord, ModelSection, Provenance, SettingsSection, SignOff
from reportgen.schema.record import SPREAD, Record, field_hints, record, record_in
from reportgen.schema.sections import Evidence, Sanity, Slides, Stability, StainRobustness
from reportgen.schema.summary import Summary

SCHEMA_VERSION = 1


@record
class ReportDocument(Record):
    """The whole of ``report.json``."""

    schema_version: int
    generated_at: str
    title: str
    summary: Summary
    model: ModelSection
    data: DataSection
    settings: SettingsSection
    methods: dict[str, MethodSection]
    baselines: dict[str, ScoredMap]
    informative: Informative
    verdicts: list[Verdict]
    substrate_scope: SubstrateScope | None
    substrate_rankings: dict[str, dict[str, list[str]]] | None
    substrate_aucs: dict[str, dict[str, dict[str, float | None]]] | None
    agreement: Agreement
    localisation: dict[str, Localisation]
    sanity: Sanity | None
    stability: Stability | None
    evidence: Evidence | None
    slides: Slides | None
    stain_robustness: StainRobustness | None
    images: list[ImageRecord]
    provenance: Provenance
    sign_off: SignOff
    comparison: dict[str, Any] | None
    gates: list[dict[str, Any]] | None
    #: The records of sections registered beyond this schema (:func:`reportgen.judgement.register_section`),
    #: by key: top-level keys of report.json after the others.
    added_sections: dict[str, Any] = dataclasses.field(default_factory=dict, metadata=SPREAD)


#: What each top-level key holds, for the key table of docs/report-json.md (the typed sections add their keys).
TOP_LEVEL = {
    "schema_version": "document version",
    "generated_at": "UTC time the report was built",
    "title": "report title",
    "summary": "page one",
    "model": "the model card",
    "data": "the data",
    "settings": "how the maps were scored",
    "methods": "per method (name -> record)",
    "baselines": "per reference map `random`, `centre_prior`, `sobel` (name -> record)",
    "informative": "which patches can tell maps apart, per metric",
    "verdicts": "one record per claim: each method against each reference map and each other method, per metric",
    "substrate_scope": "each substrate's drift when random pixels are replaced (how far it leaves the model's scope)",
    "substrate_rankings": "method ranking per substrate and metric (`--compare-substrates`; else `null`)",
    "substrate_aucs": "mean AUC per substrate, metric and map (`--compare-substrates`; else `null`)",
    "agreement": "agreement of the methods' maps",
    "localisation": "per map (name -> record)",
    "sanity": "the randomisation check (`--sanity-images 0`: `null`)",
    "stability": f"stability of the explanations: {', '.join(variant.title for variant in list_stability_variants())} "
                 "(`--stability`; `none`: `null`)",
    "evidence": "right for the right reason: do the tumour calls survive removing the periphery, and where the "
                "maps put their attribution",
    "slides": "per slide: accuracy on the evaluated split, each method on the slide's explained patches, the "
              "worst slide per method (`null` without slide ids)",
    "stain_robustness": "the model and the maps under HED jitter (light, strong), the data's stain amounts and "
                        "Macenko normalisation; the model under the other class's stain (`--stain-images 0`: `null`)",
    "images": "one record per explained patch",
    "provenance": "reproducibility",
    "sign_off": "who signs the report (`[sign_off]` in the configuration; `null` values are blank lines)",
    "comparison": "changes since `--compare REPORT_JSON` (else `null`)",
    "gates": "`--fail-if` results: `expression`, `passed`, `detail` (else `null`)",
}


def section_type(key: str) -> type | None:
    """The record type of top-level ``key``'s value (of each entry, for name -> record maps), or ``None``."""
    return record_in(field_hints(ReportDocument)[key])


def section_keys(cls: type) -> list[str]:
    """The keys of record type ``cls`` in field order, inherited keys first."""
    return list(field_hints(cls))
