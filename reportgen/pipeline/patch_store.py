"""``attributions.h5``: the explained patches, every raw map and every curve, written as they are computed.

A report of thousands of patches cannot hold its maps in memory (36 KiB a map, several map sets a
patch), so the build writes each chunk of patches here as soon as it is explained and scored
(:mod:`reportgen.pipeline.chunks`) and keeps only per-patch numbers; the gallery and the per-patch
notes read their patches back one at a time.  The layout (docs/report-json.md#attributionsh5), N patches in
report order (the reference maps are not stored: the random map is seeded per patch, the centre
prior and Sobel edges are computed from the image):

=========================================  ==========================================================
``patch_ids`` (N,) str                     ``split:index`` of each patch
``patch_indices``, ``labels``,             (N,) int64: index in the split, label, the class explained,
``targets``, ``predictions``               the model's prediction
``images`` (N, H, W, 3) uint8              the patches as read
``masks`` (N, H, W) uint8                  ground-truth tumour masks (only where the data have them)
``maps/<method>`` (N, H, W) float32        each method's raw map
``curves/<map set>/<curve>``               (N, steps + 1) float64 ``deletion`` (most relevant first),
                                           ``insertion`` and ``least_first`` curves of every map set
=========================================  ==========================================================

Image, mask and map datasets are chunked one patch per chunk and gzip-compressed, so reading one
patch reads one chunk.  Reference: the HDF5 chunking guide,
https://docs.h5py.org/en/stable/high/dataset.html#chunked-storage
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

#: The store's file name in a report directory.
STORE_NAME = "attributions.h5"
#: gzip level of the chunked datasets: level 4 keeps writing well under the cost of explaining a patch.
COMPRESSION_LEVEL = 4


class PatchStore:
    """Write ``attributions.h5`` chunk by chunk; datasets are created on the first chunk that carries them.

    Parameters
    ----------
    path : the file to create (the report's staging directory, so a failed build leaves no store behind).
    patch_ids : (N,) ``split:index``; patch_indices, labels, targets, predictions : (N,) ints, report order.
    """

    def __init__(self, path: Path, *, patch_ids, patch_indices, labels, targets, predictions):
        self.path = Path(path)
        self.count = len(patch_ids)
        self.file = h5py.File(self.path, "w")
        self.file.create_dataset("patch_ids", data=np.array([str(p) for p in patch_ids], dtype=h5py.string_dtype()))
        for name, values in (("patch_indices", patch_indices), ("labels", labels), ("targets", targets),
                             ("predictions", predictions)):
            self.file.create_dataset(name, data=np.asarray(values, dtype=np.int64))

    def _dataset(self, name: str, shape_per_patch: tuple[int, ...], dtype) -> h5py.Dataset:
        if name not in self.file:
            chunked = len(shape_per_patch) >= 2  # images and maps: one patch a chunk; curves: contiguous rows
            self.file.create_dataset(
                name, shape=(self.count, *shape_per_patch), dtype=dtype,
                **({"chunks": (1, *shape_per_patch), "compression": "gzip",
                    "compression_opts": COMPRESSION_LEVEL, "shuffle": True} if chunked else {}))
        return self.file[name]

    def write(self, start: int, *, images: np.ndarray, masks: np.ndarray | None, maps: dict[str, np.ndarray],
              curves: dict[str, dict[str, np.ndarray]]) -> None:
        """Store patches ``start .. start + len(images) - 1``.

        Parameters
        ----------
        images : (C, H, W, 3) uint8; masks : (C, H, W) uint8 or ``None``.
        maps : method -> (C, H, W) raw maps.
        curves : map set -> curve name -> (C, steps + 1).
        """
        stop = start + len(images)
        height, width = images.shape[1:3]
        self._dataset("images", (height, width, 3), np.uint8)[start:stop] = images
        if masks is not None:
            self._dataset("masks", (height, width), np.uint8)[start:stop] = masks
        for name, values in maps.items():
            self._dataset(f"maps/{name}", (height, width), np.float32)[start:stop] = values
        for name, by_curve in curves.items():
            for curve, values in by_curve.items():
                self._dataset(f"curves/{name}/{curve}", values.shape[1:], np.float64)[start:stop] = values
        self.file.flush()

    def close(self) -> None:
        self.file.close()


class StoredPatches:
    """The store opened for reading: datasets index like arrays (``maps["grad_cam"][i]`` reads patch i).

    Attributes
    ----------
    images : (N, H, W, 3) uint8 dataset; masks : (N, H, W) dataset or ``None``.
    maps : map set -> (N, H, W) float32 dataset.
    """

    def __init__(self, path: Path):
        self.file = h5py.File(path, "r")
        self.images = self.file["images"]
        self.masks = self.file["masks"] if "masks" in self.file else None
        self.maps = dict(self.file["maps"].items()) if "maps" in self.file else {}

    def close(self) -> None:
        self.file.close()
