"""The schema of ``report.json``: every section a typed record (a dataclass), every key documented once.

:func:`reportgen.pipeline.document.assemble_document` is the one producer of a
document; the templates, ``--compare`` and ``--fail-if`` read it.  The
key table of docs/report-json.md is :func:`readme_table` (a test keeps the two equal, and a
test checks a real build's keys against these types).  ``SCHEMA_VERSION``
changes when a key changes meaning.

The records, by part of the document: :mod:`~reportgen.schema.faithfulness` (the maps' scores, verdicts,
substrates, agreement, localisation), :mod:`~reportgen.schema.summary` (page one),
:mod:`~reportgen.schema.model` (model card, data, patches, settings, provenance, sign-off),
:mod:`~reportgen.schema.sections` (sanity, stability, stain, evidence, slides) and
:mod:`~reportgen.schema.document` (the whole document); :mod:`~reportgen.schema.markdown` generates
docs/report-json.md from them; :mod:`~reportgen.schema.record` reads ``report.json`` into the records and
writes them back (the producer's output, and an earlier report given to ``--compare``, are the same types).
"""

from reportgen.schema.document import SCHEMA_VERSION, TOP_LEVEL, ReportDocument, section_keys, section_type
from reportgen.schema.faithfulness import (
    Agreement,
    Informative,
    InformativeCount,
    InformativeMeans,
    Interval,
    Localisation,
    MeanCurves,
    MethodSection,
    ScoredMap,
    SubstrateDrift,
    SubstrateScope,
    Verdict,
)
from reportgen.schema.markdown import REPORT_JSON_COMMAND, REPORT_JSON_DOC, readme_table, report_json_markdown
from reportgen.schema.model import (
    CheckpointFacts,
    DataSection,
    ImageRecord,
    ModelCardFacts,
    ModelSection,
    PatchScores,
    Provenance,
    Selection,
    SettingsSection,
    SignOff,
    Uncertainty,
)
from reportgen.schema.record import Record, field_hints, from_json, record_in, to_json
from reportgen.schema.sections import (
    ClassStain,
    Evidence,
    EvidenceImages,
    EvidenceMethod,
    MapSimilarity,
    Rate,
    Sanity,
    SanityMethod,
    SeedRepeat,
    Share,
    SlideAccuracy,
    SlideExplained,
    SlideMethod,
    Slides,
    Stability,
    StainCondition,
    StainMethod,
    StainRobustness,
    ValuePair,
    WorstSlide,
)
from reportgen.schema.summary import Check, Summary, WarningRecord

__all__ = [
    "SCHEMA_VERSION", "TOP_LEVEL", "REPORT_JSON_COMMAND", "REPORT_JSON_DOC",
    "readme_table", "report_json_markdown", "section_keys", "section_type",
    "Record", "field_hints", "from_json", "record_in", "to_json",
    # faithfulness
    "Agreement", "Informative", "InformativeCount", "InformativeMeans", "Interval", "Localisation", "MeanCurves",
    "MethodSection", "ScoredMap", "SubstrateDrift", "SubstrateScope", "Verdict",
    # summary
    "Check", "Summary", "WarningRecord",
    # model
    "CheckpointFacts", "DataSection", "ImageRecord", "ModelCardFacts", "ModelSection", "PatchScores", "Provenance",
    "Selection", "SettingsSection", "SignOff", "Uncertainty",
    # sections
    "ClassStain", "Evidence", "EvidenceImages", "EvidenceMethod", "MapSimilarity", "Rate", "Sanity", "SanityMethod",
    "SeedRepeat", "Share", "SlideAccuracy", "SlideExplained", "SlideMethod", "Slides", "Stability", "StainCondition",
    "StainMethod", "StainRobustness", "ValuePair", "WorstSlide",
    # document
    "ReportDocument",
]
