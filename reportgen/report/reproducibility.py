"""The "Reproducibility" section's view: what it takes to run the audit again, from the document's ``provenance``
record (the rest of it is in the appendix, :mod:`reportgen.report.appendix`)."""

from __future__ import annotations

from dataclasses import dataclass

from reportgen.formatting import fmt_any, without_paths
from reportgen.schema import ReportDocument


@dataclass(frozen=True)
class ProvenanceView:
    """What is needed to reproduce the run (the rest is in the appendix)."""

    command_line: str
    seed: str
    reportgen_version: str
    checkpoint_sha256: str
    data_fingerprint: str


def provenance_view(document: ReportDocument) -> ProvenanceView:
    """The command line (without local paths), seed, version and the hashes of the model and the data."""
    provenance = document.provenance
    return ProvenanceView(
        command_line=without_paths(provenance.command_line), seed=fmt_any(provenance.seed),
        reportgen_version=fmt_any(provenance.reportgen_version),
        checkpoint_sha256=fmt_any(provenance.checkpoint_sha256),
        data_fingerprint=fmt_any(provenance.data_fingerprint))
