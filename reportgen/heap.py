"""Keeping Python's cyclic garbage collector off the long-lived heap.

After torch, the model and the data are loaded the heap holds over a million
objects that live until exit, yet every full collection walks them all.
Freezing them (``gc.freeze``) moves them out of the collector's sight; objects
created later are still collected, and reference counting frees memory
throughout.
"""

from __future__ import annotations

import contextlib
import gc
from typing import Iterator


@contextlib.contextmanager
def heap_frozen() -> Iterator[None]:
    """Freeze every object alive on entry for the block, and unfreeze them on exit.

    Left alone when objects are already frozen (by the caller or an outer
    block): unfreezing is global, so only the one who froze may unfreeze.
    """
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
