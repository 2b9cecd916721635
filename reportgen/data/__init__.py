"""PatchCamelyon data: the real HDF5 reader, the synthetic generator and seeded sampling.

Callers import from here (``from reportgen.data import open_pcam``). The modules:

- :mod:`~reportgen.data.files`: the PCam file names and shapes; finding and opening the files.
- :mod:`~reportgen.data.gunzip`: ``.h5.gz`` downloads decompressed once into a cache.
- :mod:`~reportgen.data.validate`: up-front checks of a split's files, one-line errors.
- :mod:`~reportgen.data.inflate`: row reads, gzip chunks inflated in threads.
- :mod:`~reportgen.data.reader`: ``open_pcam``, ``PCamDataset``, ``PCamSplit``, ``PatchBatch``.
- :mod:`~reportgen.data.folder` and :mod:`~reportgen.data.patches_csv`: an image folder of
  patches (``FolderSplit``), which ``open_pcam`` opens as well.
- :mod:`~reportgen.data.tensors`: ``as_float_tensor`` (the only module that needs torch).
- :mod:`~reportgen.data.demo`: ``ensure_demo_data``, the cached synthetic demo set.
- :mod:`~reportgen.data.inspection`: ``inspect_data_dir``, ``format_inspection`` and ``check_build_split``.
- :mod:`~reportgen.data.synth` (files) and :mod:`~reportgen.data.tissue` (pixels):
  ``write_synthetic_pcam`` and ``DEMO_SIZES``.
- :mod:`~reportgen.data.sampling`: ``stratified_subset`` and ``select_cases``.
- :mod:`~reportgen.data.preview`: the example picture of synthetic patches.

Names are imported from their module on first use, so that ``import
reportgen.data`` stays cheap and reading data never imports torch.
"""

from __future__ import annotations

import importlib

# Public name -> the module (under reportgen.data) that defines it.
_EXPORTS = {
    "BLOCK_SIZE": "reader",
    "PCamDataset": "reader",
    "PCamSplit": "reader",
    "PatchBatch": "reader",
    "open_pcam": "reader",
    "FolderSplit": "folder",
    "as_float_tensor": "tensors",
    "ensure_demo_data": "demo",
    "inspect_data_dir": "inspection",
    "format_inspection": "inspection",
    "check_build_split": "inspection",
    "PCAM_FILE": "files",
    "SPLITS": "files",
    "DEMO_SIZES": "synth",
    "SYNTHETIC_MARKER": "synth",
    "centre_labels": "synth",
    "write_synthetic_pcam": "synth",
    "select_cases": "sampling",
    "stratified_subset": "sampling",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
