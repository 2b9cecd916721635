"""The explained patches' judgement: how many patch notes report attribution on the patch border.

Each patch's note is written by :func:`reportgen.judgement.notes.patch_note` from its maps and mask.
"""

from __future__ import annotations

from reportgen.judgement.check import Finding
from reportgen.schema import ReportDocument


def findings(document: ReportDocument) -> list[Finding]:
    """The count of patch notes that report attribution concentrated on the border (low)."""
    images = document.images
    border_notes = sum(1 for image in images if "border" in str(image.note).lower())
    if not border_notes:
        return []
    return [Finding("low", f"{border_notes} of {len(images)} patch notes report attribution concentrated on the patch "
                           "border.")]
