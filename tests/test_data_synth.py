"""The synthetic generator writes the real PCam layout with labels that follow the masks."""

from __future__ import annotations

import csv

import h5py
import numpy as np
import pytest

from reportgen.data import SPLITS, open_pcam
from reportgen.data.synth import SYNTHETIC_MARKER, centre_labels, write_synthetic_pcam
from reportgen.errors import ConfigError

SIZES = dict(n_train=64, n_valid=40, n_test=24)


@pytest.fixture(scope="module")
def synthetic_dir(tmp_path_factory):
    return write_synthetic_pcam(tmp_path_factory.mktemp("synth"), seed=5, hard_negative_fraction=0.5, **SIZES)


def test_layout_matches_pcam_files(synthetic_dir):
    for split, n in zip(SPLITS, SIZES.values()):
        with h5py.File(synthetic_dir / f"camelyonpatch_level_2_split_{split}_x.h5") as x_file:
            x, mask = x_file["x"], x_file["mask"]
            assert (x.shape, x.dtype, mask.shape, mask.dtype) == ((n, 96, 96, 3), np.uint8, (n, 96, 96), np.uint8)
            assert x.chunks is not None and x.compression == "gzip" and mask.compression == "gzip"
            assert SYNTHETIC_MARKER in x_file.attrs
        with h5py.File(synthetic_dir / f"camelyonpatch_level_2_split_{split}_y.h5") as y_file:
            y = y_file["y"]
            assert (y.shape, y.dtype, y.compression) == ((n, 1, 1, 1), np.uint8, "gzip")
            assert y.chunks is not None
        with open(synthetic_dir / f"camelyonpatch_level_2_split_{split}_meta.csv") as handle:
            rows = list(csv.reader(handle))
        assert rows[0] == ["", "coord_y", "coord_x", "tumor_patch", "center_tumor_patch", "wsi"]
        assert len(rows) == n + 1


def test_labels_are_mask_touches_centre_and_classes_are_balanced(synthetic_dir):
    with open_pcam(synthetic_dir, splits=SPLITS) as data:
        assert data.source == "synthetic"
        for split in data.splits.values():
            batch = split.read(slice(0, len(split)))
            assert np.array_equal(batch.labels, centre_labels(batch.masks))
            assert np.array_equal(batch.labels, (batch.masks[:, 32:64, 32:64].sum(axis=(1, 2)) > 0))
            assert batch.labels.sum() == len(split) // 2
            # Half of the negatives are hard: a cluster that stays outside the centre.
            hard = (batch.labels == 0) & batch.masks.any(axis=(1, 2))
            assert hard.sum() == round(0.5 * (len(split) - len(split) // 2))
            assert split.slide_ids is not None and split.slide_ids[0].startswith(f"synthetic_{split.name}_slide_")


def test_tumour_nuclei_are_darker_than_the_rest(synthetic_dir):
    with open_pcam(synthetic_dir, splits=("train",)) as data:
        batch = data.split("train").read(slice(0, 64))
    brightness = batch.images.astype(float).mean(axis=3)
    inside = batch.masks.astype(bool)
    assert brightness[inside].mean() < brightness[~inside].mean() - 60


def test_same_seed_gives_identical_files_and_other_seed_differs(tmp_path):
    first = write_synthetic_pcam(tmp_path / "a", seed=1, n_train=16, n_valid=8, n_test=8)
    second = write_synthetic_pcam(tmp_path / "b", seed=1, n_train=16, n_valid=8, n_test=8)
    other = write_synthetic_pcam(tmp_path / "c", seed=2, n_train=16, n_valid=8, n_test=8)
    for path in sorted(first.iterdir()):
        assert path.read_bytes() == (second / path.name).read_bytes(), path.name
    with h5py.File(first / "camelyonpatch_level_2_split_train_x.h5") as a, h5py.File(
        other / "camelyonpatch_level_2_split_train_x.h5"
    ) as c:
        assert not np.array_equal(a["x"][()], c["x"][()])


@pytest.mark.parametrize(
    "options", [dict(n_train=0), dict(hard_negative_fraction=1.5), dict(positive_fraction=-0.1), dict(slides_per_split=0)]
)
def test_bad_options_raise_config_error(tmp_path, options):
    with pytest.raises(ConfigError):
        write_synthetic_pcam(tmp_path, **{"n_train": 4, "n_valid": 4, "n_test": 4, **options})


def test_black_pigment_appears_in_both_classes_but_never_on_tumour_nuclei(tmp_path):
    directory = write_synthetic_pcam(tmp_path, seed=2, n_train=256, n_valid=8, n_test=8)
    with open_pcam(directory, splits=("train",)) as data:
        batch = data.split("train").read(slice(0, 256))
    # Near-black: every channel under 8 % of full scale; tissue, nuclei included, never gets there.
    black = (batch.images.max(axis=3) < 20)
    has_black = black.sum(axis=(1, 2)) >= 30
    for label in (0, 1):
        share = has_black[batch.labels == label].mean()
        assert 0.05 < share < 0.4, f"label {label}: {share:.2f} of patches with black pigment"
    assert not black[batch.masks.astype(bool)].any()


def test_a_failed_write_leaves_the_data_set_already_there_as_it_was(tmp_path, monkeypatch):
    import reportgen.data.synth as synth

    out = write_synthetic_pcam(tmp_path / "pcam", seed=5, n_train=8, n_valid=8, n_test=8)
    before = {path.name: path.read_bytes() for path in out.iterdir()}

    render_block, calls = synth.render_block, []

    def fail_in_the_second_split(*args, **kwargs):
        calls.append(1)
        if len(calls) > 1:  # the training split is written; the validation split fails
            raise OSError("No space left on device")
        return render_block(*args, **kwargs)

    monkeypatch.setattr(synth, "render_block", fail_in_the_second_split)
    with pytest.raises(OSError, match="No space"):
        write_synthetic_pcam(out, seed=6, n_train=8, n_valid=8, n_test=8)
    # Every file as it was, and nothing half-written beside them.
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before
