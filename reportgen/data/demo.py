"""The embedded synthetic demo set: generated on first use into the cache, reused afterwards."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

from reportgen.cache import default_cache_dir
from reportgen.data.files import SPLITS
from reportgen.data.synth import DEMO_SIZES, GENERATOR_VERSION, write_synthetic_pcam

logger = logging.getLogger(__name__)


def ensure_demo_data(cache_dir: str | Path | None = None, *, seed: int = 0, sizes: dict[str, int] | None = None) -> Path:
    """The synthetic demo set, generated on first use and reused afterwards.

    Parameters
    ----------
    cache_dir : parent directory (default ``$REPORTGEN_CACHE`` or ``~/.cache/reportgen``).
    seed : generator seed (default 0).
    sizes : patches per split (default ``DEMO_SIZES``); non-default sizes get their own directory.

    Returns
    -------
    ``cache_dir / synthetic-pcam-seed{seed}-v{GENERATOR_VERSION}`` (plus a size
    suffix for non-default sizes). It is generated in a temporary directory and
    renamed into place, so an interrupted run leaves nothing that looks complete.
    """
    sizes = dict(DEMO_SIZES if sizes is None else sizes)
    root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    name = f"synthetic-pcam-seed{seed}-v{GENERATOR_VERSION}"
    if sizes != DEMO_SIZES:
        name += "-" + "-".join(f"{sizes[split]}" for split in SPLITS)
    target = root / name
    if target.is_dir():
        return target
    root.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(dir=root, prefix=f".partial-{name}."))
    try:
        logger.info("generating synthetic demo data into %s", target)
        write_synthetic_pcam(scratch, seed=seed, n_train=sizes["train"], n_valid=sizes["valid"], n_test=sizes["test"])
        try:
            os.rename(scratch, target)
        except OSError:
            # Another process finished the same set first; theirs is identical.
            if not target.is_dir():
                raise
    finally:
        if scratch.exists():
            shutil.rmtree(scratch, ignore_errors=True)
    return target
