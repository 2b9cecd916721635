"""What ``reportgen data inspect`` reports about a data directory, and its text form."""

from __future__ import annotations

from pathlib import Path

import h5py

from reportgen.data.files import PCAM_FILE, SPLITS, find_file
from reportgen.data.folder import CLASS_LABELS, class_folder_names, is_patch_folder
from reportgen.data.label_region import CENTRE, LABEL_REGIONS, applies, check_label_region, label_region
from reportgen.data.reader import open_pcam
from reportgen.errors import DataError


def inspect_data_dir(data_dir: str | Path, *, cache_dir: str | Path | None = None,
                     class_folders: dict[str, str] | None = None, stated_label_region: str | None = None) -> dict:
    """Describe every split found in ``data_dir`` (what ``reportgen data inspect`` prints).

    Parameters
    ----------
    data_dir : a PCam directory or an image folder.
    cache_dir : where ``.h5.gz`` files are decompressed once (default as :func:`open_pcam`).
    class_folders : an image folder's class folder names, ``{"tumour": ..., "normal": ...}`` (default the class
        names; the configuration's ``class_folders``).
    stated_label_region : the ``label_region`` the configuration states (default ``None``: not stated); a
        ConfigError when it is none of :data:`reportgen.data.label_region.LABEL_REGIONS`.

    Returns
    -------
    dict with ``root``, ``source``, ``fingerprint`` and ``splits``: split name ->
    {``n``, ``positives``, ``positive_share``, ``x_shape``, ``x_dtype``,
    ``y_shape``, ``y_dtype``, ``x_file``, ``y_file``, ``gzipped`` (.h5.gz
    download), ``compression`` (HDF5 filter of x, e.g. "gzip level 4"),
    ``chunks``, ``has_masks``, ``has_meta``, ``n_slides``}; and ``missing``:
    the splits of :data:`SPLITS` without files; ``label_region``: the region a
    build takes to decide the labels (:func:`reportgen.data.label_region.label_region`).
    An image folder (:mod:`reportgen.data.folder`) gives ``layout`` "folder",
    ``class_folders`` (class -> the folder read) and, per split, {``n``,
    ``positives``, ``positive_share``, ``classes`` (class -> count),
    ``patch_size``, ``formats`` (file suffix -> count), ``has_masks``,
    ``has_meta``, ``n_slides``}.
    """
    check_label_region(stated_label_region)
    data_dir = Path(data_dir).expanduser()
    if not data_dir.is_dir():
        raise DataError(f"{data_dir}: data directory does not exist; pass the folder holding the PCam .h5 files")
    if is_patch_folder(data_dir):
        info = _inspect_folder(data_dir, class_folder_names(class_folders))
        return {**info, "label_region": label_region(info["source"], stated_label_region, info["side"])}
    found = tuple(
        split for split in SPLITS if find_file(data_dir, split, "x") is not None or find_file(data_dir, split, "y") is not None
    )
    if not found:
        raise DataError(f"{data_dir}: no PCam files found; expected names like {PCAM_FILE.format(split='train', part='x')}")
    info: dict = {"root": str(data_dir), "splits": {}, "missing": [split for split in SPLITS if split not in found]}
    with open_pcam(data_dir, splits=found, cache_dir=cache_dir) as dataset:
        info["source"] = dataset.source
        info["label_region"] = label_region(dataset.source, stated_label_region)
        info["fingerprint"] = dataset.fingerprint
        for name, split in dataset.splits.items():
            with h5py.File(split.x_path, "r") as x_file, h5py.File(split.y_path, "r") as y_file:
                x, y = x_file["x"], y_file["y"]
                level = f" level {x.compression_opts}" if x.compression_opts is not None else ""
                info["splits"][name] = {
                    "n": len(split),
                    "positives": int(split.labels.sum()),
                    "positive_share": float(split.labels.mean()),
                    "x_shape": tuple(x.shape),
                    "x_dtype": str(x.dtype),
                    "y_shape": tuple(y.shape),
                    "y_dtype": str(y.dtype),
                    "x_file": split.x_source.name,
                    "y_file": split.y_source.name,
                    "gzipped": split.x_source.name.endswith(".gz") or split.y_source.name.endswith(".gz"),
                    "compression": f"{x.compression}{level}" if x.compression else "none",
                    "chunks": tuple(x.chunks) if x.chunks else None,
                    "has_masks": split.has_masks,
                    "has_meta": split.slide_ids is not None,
                    "n_slides": None if split.slide_ids is None else len(set(split.slide_ids)),
                }
    return info


def _inspect_folder(data_dir: Path, folders: dict[str, str]) -> dict:
    """:func:`inspect_data_dir` of an image folder whose class folders are ``folders`` (class -> folder name)."""
    found = tuple(split for split in SPLITS if (data_dir / split).is_dir())
    info: dict = {"root": str(data_dir), "layout": "folder", "class_folders": folders, "splits": {},
                  "missing": [split for split in SPLITS if split not in found]}
    with open_pcam(data_dir, splits=found, class_folders=folders) as dataset:
        info["source"] = dataset.source
        info["fingerprint"] = dataset.fingerprint
        info["side"] = dataset.patch_size
        for name, split in dataset.splits.items():
            suffixes = [Path(file).suffix.lower() for file in split.files]
            info["splits"][name] = {
                "n": len(split),
                "positives": int(split.labels.sum()),
                "positive_share": float(split.labels.mean()),
                "classes": {name: int((split.labels == label).sum()) for name, label in CLASS_LABELS.items()},
                "patch_size": f"{split.patch_size}x{split.patch_size}",
                "formats": {suffix: suffixes.count(suffix) for suffix in sorted(set(suffixes))},
                "has_masks": split.has_masks,
                "has_meta": split.slide_ids is not None,
                "n_slides": None if split.slide_ids is None else len(set(split.slide_ids)),
            }
    return info


#: What a build reads from each split (``reportgen build --split`` chooses the explained one).
BUILD_NEEDS = {"train": "to train, when no --checkpoint is given", "valid": "explained by default",
               "test": "explained with --split test"}


def check_build_split(info: dict, split: str) -> None:
    """Raise the DataError ``reportgen build --split split`` gives when that split is missing.

    The rule ``reportgen data inspect`` and ``reportgen build`` share: a
    directory without the explained split is refused with exit code 2; a
    missing training split is only reported, since a build with
    ``--checkpoint`` does not read it.
    """
    if split in info["missing"]:
        expected = (f"folder {split}/" if info.get("layout") == "folder"
                    else f"{PCAM_FILE.format(split=split, part='x')} or .h5.gz")
        raise DataError(f"{info['root']}: split {split!r} is missing (no {expected}), and "
                        f"'reportgen build' {'explains it by default' if split == 'valid' else 'needs it'}; "
                        "add its files or choose another split with --split")


def format_inspection(info: dict) -> str:
    """Human-readable lines for :func:`inspect_data_dir`'s result, ending with what a build can use."""
    lines = [f"{info['root']}  source={info['source']}  fingerprint={info['fingerprint']}"]
    if info.get("layout") == "folder":
        lines.append("  class folders: " + ", ".join(f"{folder}/ = {name} (label {CLASS_LABELS[name]})"
                                                       for name, folder in info["class_folders"].items()))
    region = info["label_region"]
    consequence = "" if applies(region) else (
        f"; a build does not apply the right-for-the-right-reason and centre-attribution checks unless "
        f'label_region = "{CENTRE}" is stated')
    lines.append(f"  label region: {region} ({LABEL_REGIONS[region]}{consequence})")
    for name, split in info["splits"].items():
        if info.get("layout") == "folder":
            slides = f"yes, {split['n_slides']} slides" if split["has_meta"] else "no"
            formats = ", ".join(f"{count} {suffix}" for suffix, count in split["formats"].items())
            lines += [
                f"  {name}: {split['n']} patches, {split['positives']} positive ({split['positive_share']:.1%})",
                "    " + ", ".join(f"{count} {cls} in {info['class_folders'][cls]}/"
                               for cls, count in split["classes"].items()),
                f"    {split['patch_size']} images: {formats}",
                f"    masks: {'yes' if split['has_masks'] else 'no'}; slide ids (patches.csv): {slides}",
            ]
            continue
        slides = f", {split['n_slides']} slides" if split["has_meta"] else ""
        lines += [
            f"  {name}: {split['n']} patches, {split['positives']} positive ({split['positive_share']:.1%})",
            f"    x {split['x_shape']} {split['x_dtype']} in {split['x_file']}; y {split['y_shape']} {split['y_dtype']} in {split['y_file']}",
            f"    HDF5 compression {split['compression']}, chunks {split['chunks']}; "
            f"{'.h5.gz download' if split['gzipped'] else 'plain .h5'}",
            f"    masks: {'yes' if split['has_masks'] else 'no'}; meta csv: {'yes' + slides if split['has_meta'] else 'no'}",
        ]
    lines.append("  a build needs:")
    for name, use in BUILD_NEEDS.items():
        lines.append(f"    {name} ({use}): {'MISSING' if name in info['missing'] else 'present'}")
    return "\n".join(lines)
