"""The document docs/report-json.md, generated from the typed records: the key table
(:func:`readme_table`), the shapes shared by several keys and the ``attributions.h5`` layout
(:func:`report_json_markdown`, written by ``python -m reportgen.schema``)."""

from __future__ import annotations

from reportgen.schema import document, faithfulness, model, sections, summary
from reportgen.schema.document import SCHEMA_VERSION, TOP_LEVEL, section_keys, section_type
from reportgen.schema.faithfulness import InformativeMeans, Interval, MeanCurves
from reportgen.schema.record import field_hints, is_record, record_in

#: Shapes described once under the table instead of at every key that has them.
_COMMON = (Interval, MeanCurves, InformativeMeans)


def _describe(cls: type) -> str:
    parts = []
    for name, hint in field_hints(cls).items():
        inner = record_in(hint)
        if inner is None or inner in _COMMON:
            parts.append(f"`{name}`")
        else:
            parts.append(f"`{name}` ({', '.join(f'`{key}`' for key in section_keys(inner))})")
    return ", ".join(parts)


def readme_table() -> str:
    """The ``report.json`` key table of docs/report-json.md, generated from the typed records."""
    rows = ["| key | content |", "| --- | --- |"]
    for key, description in TOP_LEVEL.items():
        typed = section_type(key)
        rows.append(f"| `{key}` | {description}{': ' + _describe(typed) if typed is not None else ''} |")
    return "\n".join(rows)


#: Where the generated document lives, and the command that writes it.
REPORT_JSON_DOC = "docs/report-json.md"
REPORT_JSON_COMMAND = "python -m reportgen.schema > docs/report-json.md"

_ATTRIBUTIONS_H5 = """\
## attributions.h5

Beside `report.json`, `attributions.h5` (HDF5, read with `h5py`) holds what every number was
computed from, N patches in the report's order (`reportgen/pipeline/patch_store.py`):

| dataset | content |
| --- | --- |
| `patch_ids` | (N,) string `split:index` |
| `patch_indices`, `labels`, `targets`, `predictions` | (N,) int64: index in the split, label, the class explained, the model's prediction |
| `images` | (N, S, S, 3) uint8, the patches as read (S = `data.patch_size`, 96 for PCam) |
| `masks` | (N, S, S) uint8 ground-truth tumour masks (only where the data have them) |
| `maps/<method>` | (N, S, S) float32, each method's raw map |
| `curves/<map set>/<curve>` | (N, steps + 1) float64: `deletion` (most relevant first), `insertion` and `least_first` curves of every method and reference map (`random`, `centre_prior`, `sobel`) |

The reference maps themselves are not stored: the random map is seeded per patch, and the centre
prior and the Sobel edges are computed from the image. Images, masks and maps are chunked one
patch per chunk and gzip-compressed, so reading one patch's map reads 36 KiB:
`h5py.File("report/attributions.h5")["maps/<method>"][7]`.

The build writes the file as it goes: it takes the patches 64 at a time through explanation,
curves, localisation, agreement, stability and the periphery test, writes each chunk's images,
maps and curves, and keeps only the per-patch numbers, so memory does not grow with `--images`
(every per-patch number is computed as if the patch were alone: seeds derive from the patch's
index, and no forward pass mixes two patches). Every statistic of the report is taken over all
patches; the gallery shows the first `--gallery` of them, errors first, and reads just those back
from the file.
"""


def _first_paragraph(cls: type) -> str:
    """A record's docstring as one line."""
    return " ".join((cls.__doc__ or "").split())

#: The modules of the typed records, in the order of the document; each record in its module's order.
_MODULES = (faithfulness, summary, model, sections, document)


def _records() -> list[type]:
    """Every record type of the schema, in declaration order, each followed by those only its keys hold (the records
    built from the registry, such as a stability variant's)."""
    records: list[type] = []

    def add(record: type) -> None:
        if record not in records:
            records.append(record)
            for hint in field_hints(record).values():
                inner = record_in(hint)
                if inner is not None:
                    add(inner)

    for module in _MODULES:
        for value in vars(module).values():
            if isinstance(value, type) and is_record(value) and value.__module__ == module.__name__:
                add(value)
    return records


def _keys_holding(cls: type) -> list[str]:
    """Names of the keys, in any record of the schema, whose value is (or holds) ``cls``."""
    names = []
    for record in _records():
        for name, hint in field_hints(record).items():
            if record_in(hint) is cls and name not in names:
                names.append(name)
    return names


def report_json_markdown() -> str:
    """The whole of ``docs/report-json.md``: the key table, the shared shapes and the ``attributions.h5`` layout.

    Written by ``python -m reportgen.schema > docs/report-json.md``; a test keeps the file equal to this.
    """
    shapes = "\n".join(f"- `{cls.__name__}` ({', '.join(f'`{key}`' for key in section_keys(cls))}), under "
                       f"{', '.join(f'`{key}`' for key in _keys_holding(cls))}: {_first_paragraph(cls)}"
                       for cls in _COMMON)
    return f"""\
# report.json and attributions.h5

<!-- Generated from reportgen/schema/ by `{REPORT_JSON_COMMAND}`; do not edit by hand. -->

`report.json` holds every number the report shows (`schema_version` {SCHEMA_VERSION}). Its one
producer is `reportgen/pipeline/document.py` and its schema is `reportgen/schema/`, whose typed
records (dataclasses) generate this page (a test keeps the two equal and checks a real build against
them); `report.json` is their serialisation. The document is complete before anything is rendered,
so the HTML and PDF show exactly what `report.json` holds; `provenance.timings` covers the stages up
to the document (rendering is logged, not recorded). What the numbers mean: [metrics.md](metrics.md).

In Python, `ReportDocument.from_json(json.load(file))` (from `reportgen.schema`) reads a
`report.json` into the records a build makes, as `--compare` reads an earlier report: a key an
earlier version did not write reads as `None`, and `to_json(document)` writes it back unchanged.

## Keys

{readme_table()}

Shapes used under several keys, listed by name only in the table:

{shapes}

{_ATTRIBUTIONS_H5}"""
