"""An image folder's ``patches.csv``: the slide id, and optionally the mask, of the patches it lists.

Columns: ``file`` (the image, relative to the data folder), ``slide_id`` and
optionally ``mask`` (a mask image relative to the data folder, non-zero =
tumour; an empty cell: none). Every row is checked when the folder is opened:
a missing column, a file or mask that does not exist, an empty slide id or a
file listed twice is one DataError naming the line and the fix.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from reportgen.data.files import SPLITS, check_readable
from reportgen.errors import DataError

PATCHES_CSV = "patches.csv"
COLUMNS = ("file", "slide_id")


@dataclass(frozen=True)
class PatchRow:
    """One row: the patch's slide id, its mask (relative POSIX path) or None, and the line it is on."""

    slide_id: str
    mask: str | None
    line: int


def _relative(text: str) -> str:
    """A path as written in the csv, as the folder listing spells it (POSIX, no ``./``)."""
    return PurePosixPath(text.strip().replace("\\", "/")).as_posix()


def _existing(data_dir: Path, text: str, what: str, line: int) -> str:
    relative = _relative(text)
    if not (data_dir / relative).is_file():
        raise DataError(f"{data_dir / PATCHES_CSV}: line {line}: {what} {relative} does not exist in {data_dir}; "
                        "fix the path (relative to the data folder) or remove the row")
    return relative


def read_patches_csv(data_dir: Path) -> dict[str, PatchRow] | None:
    """``{file: PatchRow}`` from ``data_dir/patches.csv``, or None when there is none.

    ``file`` keys are relative POSIX paths, e.g. ``valid/tumour/p001.png``.
    """
    path = data_dir / PATCHES_CSV
    if not path.is_file():
        return None
    check_readable(path)
    rows: dict[str, PatchRow] = {}
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = [name.strip() for name in reader.fieldnames or []]
            missing = [column for column in COLUMNS if column not in header]
            if missing:
                raise DataError(f"{path}: no {' or '.join(map(repr, missing))} column; the first line must name the "
                                "columns file,slide_id (and optionally mask)")
            reader.fieldnames = header
            for row in reader:
                line = reader.line_num
                if not (row.get("file") or "").strip():
                    raise DataError(f"{path}: line {line}: the file cell is empty; name the image relative to "
                                    f"{data_dir} or remove the row")
                file = _existing(data_dir, row["file"], "file", line)
                if PurePosixPath(file).parts[0] not in SPLITS:
                    raise DataError(f"{path}: line {line}: {file} is not a patch; patches sit in "
                                    "{train,valid,test}/<class folder>/ of the data folder")
                if file in rows:
                    raise DataError(f"{path}: line {line}: {file} is listed again (first on line {rows[file].line}); "
                                    "keep one row per patch")
                slide_id = (row.get("slide_id") or "").strip()
                if not slide_id:
                    raise DataError(f"{path}: line {line}: {file} has no slide_id; give every listed patch its slide")
                mask = (row.get("mask") or "").strip()
                rows[file] = PatchRow(slide_id, _existing(data_dir, mask, "mask", line) if mask else None, line)
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not UTF-8 text ({error}); save it as UTF-8 csv") from error
    except csv.Error as error:
        raise DataError(f"{path}: not a readable csv file ({error}); fix line {reader.line_num}") from error
    return rows
