"""Shards of one build: which patches a shard explains, what it writes, and the checks before a merge.

``reportgen build --shard K/N`` chooses the report's patches exactly as an
unsharded build does, then explains and scores only the K-th of N shards of
them: the patches at positions K-1, K-1+N, K-1+2N, ... of the report's order
(split order), so every shard gets a share of every stratum.  Every per-patch
result (maps, curves, sanity similarities, stain maps) is computed from that
patch alone, with a seed derived from its index, and batched with no other
patch (:func:`reportgen.metrics.faithfulness.target_probabilities`), so it is
the same number whichever shard computes it.  A shard directory holds those
results as cache entries (``entries/``, the cache's own ``.npz`` files) and
``shard.json``, which names the run it belongs to.

``reportgen merge`` checks that the shards belong to one run (same
checkpoint, data, configuration, seed and code; every shard present once),
imports their entries into the cache and runs the build: every per-patch
result is then read, and what spans the patches (the evaluation, the
statistics, the region-removal test, the document) is computed as in an
unsharded build.  The merged report equals the unsharded one in every number.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from reportgen.cache import ArrayCache
from reportgen.config import BuildConfig, Shard
from reportgen.errors import ConfigError
from reportgen.pipeline.output import SHARD_MARKER

#: The file that makes a directory a shard of a build.
SHARD_MANIFEST = SHARD_MARKER
#: The shard's cache entries, in the cache's own layout.
SHARD_ENTRIES = "entries"
SHARD_FORMAT = 1
#: Options that may differ between the shards and the merge: where things are written and read, and what the
#: merge alone does (the PDF, the comparison, the gates).  The inputs themselves are identified by their hashes,
#: so a shard may read the same checkpoint and data from another path.
RUN_INDEPENDENT = ("out", "shard", "cache_dir", "no_cache", "pdf", "compare", "fail_if", "checkpoint", "data_dir",
                   "executor", "ray_address", "shards")


def shard_positions(n_patches: int, shard: Shard) -> np.ndarray:
    """(n,) positions in the report's patch order that shard ``shard`` explains: K-1, K-1+N, ..."""
    return np.arange(shard.index - 1, n_patches, shard.count)


def run_identity(config: BuildConfig, *, checkpoint_sha256: str, data_fingerprint: str, code_version: str,
                 patch_ids: list[str]) -> dict:
    """What every shard of one run shares: every option that changes a number, the inputs and the code."""
    options = {key: value for key, value in config.to_dict().items() if key not in RUN_INDEPENDENT}
    return {"options": options, "checkpoint_sha256": checkpoint_sha256, "data_fingerprint": data_fingerprint,
            "code_version": code_version, "patch_ids": list(patch_ids)}


def write_shard(staging: Path, cache: ArrayCache, *, shard: Shard, identity: dict, config: BuildConfig,
                patch_ids: list[str]) -> int:
    """Copy the entries the shard used into ``staging/entries`` and write ``shard.json``; returns the entry count."""
    entries = staging / SHARD_ENTRIES
    count = 0
    for key in sorted(cache.used):
        source = cache.entry_path(key)
        if source.exists():
            target = entries / source.relative_to(cache.root)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
            count += 1
    manifest = {"format": SHARD_FORMAT, "shard": {"index": shard.index, "count": shard.count},
                "patch_ids": list(patch_ids), "entries": count, "identity": identity, "config": config.to_dict()}
    (staging / SHARD_MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")
    return count


def read_shard(directory: str | Path) -> dict:
    """The manifest of a shard directory; one line naming the problem when it is not one."""
    path = Path(directory) / SHARD_MANIFEST
    if not Path(directory).is_dir():
        raise ConfigError(f"shard directory {directory} does not exist; pass the --out of each 'reportgen build --shard'")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{directory} holds no {SHARD_MANIFEST}: it is not the output of 'reportgen build --shard K/N'") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ConfigError(f"{path} cannot be read ({error.__class__.__name__}); rerun that shard") from None
    if not isinstance(manifest, dict) or manifest.get("format") != SHARD_FORMAT:
        raise ConfigError(f"{path} is not a shard manifest of this version of reportgen (format "
                          f"{manifest.get('format') if isinstance(manifest, dict) else None!r}); rerun that shard")
    manifest["directory"] = str(directory)
    return manifest


def _difference(first: dict, other: dict) -> str:
    """The first field in which two run identities differ, in words."""
    for key in ("checkpoint_sha256", "data_fingerprint", "code_version"):
        if first[key] != other[key]:
            words = {"checkpoint_sha256": "checkpoint (SHA-256)", "data_fingerprint": "data",
                     "code_version": "reportgen code"}[key]
            return f"another {words}: {str(other[key])[:12]} against {str(first[key])[:12]}"
    for key in sorted(set(first["options"]) | set(other["options"])):
        if first["options"].get(key) != other["options"].get(key):
            return f"option {key!r} is {other['options'].get(key)!r}, not {first['options'].get(key)!r}"
    return "other patches"


def check_shards(manifests: list[dict]) -> dict:
    """Refuse shards that are not exactly the N shards of one run; returns the first manifest.

    Raises
    ------
    ConfigError
        When no shard is given, shards of different runs or shard counts are mixed, a shard
        is given twice, or one is missing.
    """
    if not manifests:
        raise ConfigError("name at least one shard directory: reportgen merge SHARD_DIR... --out DIR")
    first = manifests[0]
    count = first["shard"]["count"]
    seen: dict[int, str] = {}
    for manifest in manifests:
        where = manifest["directory"]
        if manifest["identity"] != first["identity"]:
            raise ConfigError(f"shard {where} belongs to another run than {first['directory']} "
                              f"({_difference(first['identity'], manifest['identity'])}); merge the shards of one run")
        if manifest["shard"]["count"] != count:
            raise ConfigError(f"shard {where} is one of {manifest['shard']['count']} shards, {first['directory']} "
                              f"one of {count}; merge the shards of one --shard K/N run")
        index = manifest["shard"]["index"]
        if index in seen:
            raise ConfigError(f"shard {index}/{count} is given twice ({seen[index]} and {where}); give each shard once")
        seen[index] = where
    missing = [str(index) for index in range(1, count + 1) if index not in seen]
    if missing:
        raise ConfigError(f"shard{'s' if len(missing) > 1 else ''} {', '.join(missing)} of {count} "
                          f"{'are' if len(missing) > 1 else 'is'} missing; run "
                          f"'reportgen build --shard {missing[0]}/{count}' and merge every shard")
    return first


def import_entries(manifests: list[dict], cache: ArrayCache) -> int:
    """Copy every shard's entries into ``cache`` (an entry already there is kept); returns how many were copied."""
    copied = 0
    for manifest in manifests:
        entries = Path(manifest["directory"]) / SHARD_ENTRIES
        for source in sorted(entries.rglob("*.npz")) if entries.is_dir() else []:
            target = cache.root / source.relative_to(entries)
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)
                copied += 1
    return copied
