"""The PCam reader: validation, ordered reads, batching, fingerprint, inspection, demo cache."""

from __future__ import annotations

import os
import shutil

import h5py
import numpy as np
import pytest
import torch
from data_fixtures import X_NAME, Y_NAME, write_split

from reportgen.data import (  # modules whose globals the tests patch
    as_float_tensor,
    demo,
    ensure_demo_data,
    files,
    format_inspection,
    inflate,
    inspect_data_dir,
    open_pcam,
)
from reportgen.data.inflate import read_rows, whole_row_deflate
from reportgen.errors import ConfigError, DataError


@pytest.fixture
def valid_dir(tmp_path):
    images, labels = write_split(tmp_path / "data", "valid", n=64)
    return tmp_path / "data", images, labels


def open_valid(directory, tmp_path=None):
    return open_pcam(directory, splits=("valid",), cache_dir=(tmp_path or directory) / "cache")


# --------------------------------------------------------------------------- reading


def test_read_returns_patches_in_the_order_asked(valid_dir):
    directory, images, labels = valid_dir
    wanted = np.array([40, 3, 63, 3, 17, 0])
    with open_valid(directory) as data:
        batch = data.split("valid").read(wanted)
    assert np.array_equal(batch.indices, wanted)
    assert np.array_equal(batch.images, images[wanted])
    assert np.array_equal(batch.labels, labels[wanted].astype(np.int64))
    assert batch.labels.dtype == np.int64 and batch.masks is None


def test_read_accepts_slices_and_rejects_out_of_range(valid_dir):
    directory, images, _ = valid_dir
    with open_valid(directory) as data:
        split = data.split("valid")
        assert np.array_equal(split.read(slice(10, 20)).images, images[10:20])
        assert np.array_equal(split.read(slice(None, None, 7)).indices, np.arange(0, 64, 7))
        with pytest.raises(IndexError):
            split.read([64])


@pytest.mark.parametrize("shuffle", [False, True])
def test_iter_batches_covers_every_index_exactly_once(valid_dir, shuffle):
    directory, images, labels = valid_dir
    subset = np.array([50, 2, 9, 33, 34, 35, 61, 10, 11])
    with open_valid(directory) as data:
        split = data.split("valid")
        for indices in (None, subset):
            batches = list(split.iter_batches(4, indices=indices, shuffle=shuffle, seed=3))
            seen = np.concatenate([batch.indices for batch in batches])
            expected = np.arange(64) if indices is None else np.sort(subset)
            assert np.array_equal(np.sort(seen), expected)
            assert all(len(batch) == 4 for batch in batches[:-1])
            for batch in batches:
                assert np.array_equal(batch.images, images[batch.indices])
                assert np.array_equal(batch.labels, labels[batch.indices])
        ordered = np.concatenate([b.indices for b in split.iter_batches(5, shuffle=False)])
        assert np.array_equal(ordered, np.arange(64))


def test_block_shuffle_is_seeded_and_keeps_blocks_contiguous(valid_dir):
    directory, _, _ = valid_dir
    with open_valid(directory) as data:
        split = data.split("valid")
        first = split.block_order(shuffle=True, seed=1, block_size=16)
        again = split.block_order(shuffle=True, seed=1, block_size=16)
        other = split.block_order(shuffle=True, seed=2, block_size=16)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))
    # Each block is a permutation of 16 neighbouring indices.
    assert sorted(int(block.min()) for block in first) == [0, 16, 32, 48]
    assert all(block.max() - block.min() == 15 for block in first)


def test_reads_work_after_fork(valid_dir):
    directory, images, _ = valid_dir
    with open_valid(directory) as data:
        split = data.split("valid")
        split.read([1])
        pid = os.fork()
        if pid == 0:
            # One chunk (through HDF5) and several chunks (through the inflate threads).
            ok = np.array_equal(split.read([5, 2]).images, images[[5, 2]])
            ok = ok and np.array_equal(split.read([50, 2, 33]).images, images[[50, 2, 33]])
            os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert np.array_equal(split.read([7]).images, images[[7]])
        assert np.array_equal(split.read([60, 7]).images, images[[60, 7]])


# Index sets: sorted, unsorted, repeats, one chunk, every chunk, and the partial last chunk (rows 64..69).
INDEX_SETS = [
    [0, 1, 2, 3],
    [69, 0, 35, 8, 7, 64, 35, 35, 16],
    [12, 13, 14, 15, 16, 17],
    list(range(70))[::-1],
    [68, 69, 69, 1],
    [5],
    [],
]


@pytest.fixture
def row_files(tmp_path):
    """One file holding the same (70, 96, 96, 3) rows under several storage layouts."""
    rows = np.random.default_rng(5).integers(0, 256, size=(70, 96, 96, 3)).astype(np.uint8)
    rows[:20] //= 16  # some compressible rows, some not
    path = tmp_path / "rows.h5"
    with h5py.File(path, "w") as handle:
        handle.create_dataset("gzip", data=rows, chunks=(8, 96, 96, 3), compression="gzip", compression_opts=1)
        handle.create_dataset("plain_chunked", data=rows, chunks=(8, 96, 96, 3))
        handle.create_dataset("contiguous", data=rows)
        handle.create_dataset("gzip_shuffle", data=rows, chunks=(8, 96, 96, 3), compression="gzip", shuffle=True)
        handle.create_dataset("gzip_split_rows", data=rows, chunks=(8, 48, 96, 3), compression="gzip")
        handle.create_dataset("mask", data=rows[..., 0], chunks=(8, 96, 96), compression="gzip")
    return path, rows


def test_only_whole_row_gzip_chunks_are_inflated_outside_hdf5(row_files):
    path, _ = row_files
    with h5py.File(path, "r") as handle:
        chosen = {name: whole_row_deflate(handle[name]) for name in handle}
    assert chosen == {
        "gzip": True,
        "mask": True,
        "plain_chunked": False,
        "contiguous": False,
        "gzip_shuffle": False,
        "gzip_split_rows": False,
    }


@pytest.mark.parametrize("indices", INDEX_SETS, ids=lambda indices: f"n{len(indices)}")
def test_read_rows_equals_plain_h5py_indexing(row_files, indices):
    path, rows = row_files
    wanted = np.array(indices, dtype=np.int64)
    with h5py.File(path, "r") as handle:
        for name in handle:
            dataset = handle[name]
            expected = np.stack([dataset[i] for i in wanted]) if len(wanted) else np.empty((0,) + dataset.shape[1:])
            for inflate in (False, whole_row_deflate(dataset)):
                got = read_rows(dataset, wanted, inflate=inflate)
                assert got.dtype == np.uint8 and got.shape == (len(wanted),) + dataset.shape[1:]
                assert np.array_equal(got, expected), (name, inflate)
            reference = rows if name != "mask" else rows[..., 0]
            assert np.array_equal(expected, reference[wanted].reshape(expected.shape))


def test_inflate_without_threads_gives_the_same_rows(row_files, monkeypatch):
    path, rows = row_files
    monkeypatch.setattr(inflate, "_INFLATE_THREADS", 1)
    monkeypatch.setattr(inflate, "_INFLATE_AHEAD", 1)
    wanted = np.array([69, 0, 35, 8, 7, 64, 35, 16, 50, 51, 23], dtype=np.int64)
    with h5py.File(path, "r") as handle:
        assert np.array_equal(read_rows(handle["gzip"], wanted, inflate=True), rows[wanted])


def test_unwritten_and_damaged_chunks_behave_as_in_hdf5(tmp_path):
    path = tmp_path / "holes.h5"
    rows = np.full((32, 96, 96, 3), 7, np.uint8)
    with h5py.File(path, "w") as handle:
        dataset = handle.create_dataset("x", shape=(32, 96, 96, 3), dtype=np.uint8, chunks=(8, 96, 96, 3),
                                        compression="gzip", fillvalue=3)
        dataset[0:8] = rows[0:8]  # rows 8..15 never written: HDF5 returns the fill value
        dataset[16:32] = rows[16:32]
        # Rows 24..31: a stored chunk that is not a valid deflate stream.
        dataset.id.write_direct_chunk((24, 0, 0, 0), b"\x78\x01 definitely not deflate")
    with h5py.File(path, "r") as handle:
        dataset = handle["x"]
        got = read_rows(dataset, np.array([9, 1, 20, 15]), inflate=True)
        assert np.array_equal(got[[0, 3]], np.full((2, 96, 96, 3), 3)) and np.array_equal(got[[1, 2]], rows[[1, 20]])
        with pytest.raises(OSError):
            dataset[24:26]
        with pytest.raises(OSError):
            read_rows(dataset, np.array([1, 25]), inflate=True)


def test_as_float_tensor_layout_and_range():
    images = np.zeros((2, 96, 96, 3), np.uint8)
    images[1, 5, 6, 2] = 255
    tensor = as_float_tensor(images)
    assert tensor.shape == (2, 3, 96, 96) and tensor.dtype == torch.float32
    assert tensor[1, 2, 5, 6] == 1.0 and tensor.sum() == 1.0
    with pytest.raises(DataError):
        as_float_tensor(np.zeros((2, 3, 96, 96), np.float32))


def test_slide_ids_come_from_meta_csv(valid_dir):
    directory, _, _ = valid_dir
    with open(directory / "camelyonpatch_level_2_split_valid_meta.csv", "w") as handle:
        handle.write(",coord_y,coord_x,tumor_patch,center_tumor_patch,wsi\n")
        for index in range(64):
            handle.write(f"{index},0,0,False,False,camelyon16_train_normal_{index % 3:03d}\n")
    with open_valid(directory) as data:
        assert data.split("valid").slide_ids[4] == "camelyon16_train_normal_001"


# --------------------------------------------------------------------------- validation


def test_missing_directory_and_missing_split(tmp_path, valid_dir):
    with pytest.raises(DataError, match="does not exist"):
        open_pcam(tmp_path / "nowhere")
    directory, _, _ = valid_dir
    with pytest.raises(DataError, match="camelyonpatch_level_2_split_train_x.h5"):
        open_pcam(directory, splits=("train", "valid"))
    with open_valid(directory) as data:
        with pytest.raises(DataError, match="'test'"):
            data.split("test")
    with pytest.raises(ConfigError, match="choose from"):
        open_pcam(directory, splits=("training",))


@pytest.mark.parametrize(
    "options, message",
    [
        (dict(n=8, labels=[0, 1, 0, 1, 0, 1, 0]), "7 labels but"),
        (dict(n=8, x_dtype=np.float32), "expected uint8"),
        (dict(n=8, x_shape=(8, 64, 64, 3)), r"expected uint8 \(N, 96, 96, 3\)"),
        (dict(n=8, labels=[0, 1] * 8, y_shape=(8, 2)), r"expected uint8 \(N, 1, 1, 1\)"),
        (dict(n=8, labels=[0, 1, 2, 0, 1, 0, 1, 0]), r"labels \[2\] outside"),
        (dict(n=0, x_shape=(0, 96, 96, 3), labels=[]), "is empty"),
        (dict(n=8, mask_shape=(8, 96, 95)), "dataset 'mask'"),
    ],
)
def test_malformed_files_raise_one_line_data_errors(tmp_path, options, message):
    write_split(tmp_path, "valid", **options)
    with pytest.raises(DataError, match=message) as caught:
        open_valid(tmp_path)
    assert "\n" not in str(caught.value) and "camelyonpatch_level_2_split_valid" in str(caught.value)


def test_truncated_and_garbage_h5_are_rejected(valid_dir):
    directory, _, _ = valid_dir
    x_path = directory / X_NAME.format(split="valid")
    content = x_path.read_bytes()
    x_path.write_bytes(content[: len(content) // 2])
    with pytest.raises(DataError, match="truncated or corrupt"):
        open_valid(directory)
    x_path.write_bytes(b"this is not hdf5" * 100)
    with pytest.raises(DataError, match=X_NAME.format(split="valid")):
        open_valid(directory)


def test_unreadable_file_is_reported_via_access_check(valid_dir, monkeypatch):
    directory, _, _ = valid_dir
    y_name = Y_NAME.format(split="valid")
    real_access = os.access
    monkeypatch.setattr(files.os, "access", lambda path, mode: not str(path).endswith(y_name) and real_access(path, mode))
    with pytest.raises(DataError, match=f"{y_name}: file is not readable"):
        open_valid(directory)


# --------------------------------------------------------------------------- identity and inspection


def test_fingerprint_is_stable_and_content_sensitive(tmp_path):
    write_split(tmp_path / "a", "valid", n=64, seed=1)
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    write_split(tmp_path / "c", "valid", n=64, seed=2)
    prints = [open_valid(tmp_path / name, tmp_path).fingerprint for name in ("a", "a", "b", "c")]
    assert prints[0] == prints[1] == prints[2]
    assert prints[3] != prints[0]
    assert len(prints[0]) == 32 and int(prints[0], 16) >= 0


def test_source_is_pcam_without_marker(valid_dir):
    directory, _, _ = valid_dir
    with open_valid(directory) as data:
        assert data.source == "pcam"


def test_inspect_reports_counts_compression_and_extras(tmp_path):
    labels = np.array([1, 0, 0, 0, 1, 0, 0, 0])
    write_split(tmp_path, "valid", n=8, labels=labels, mask_shape=(8, 96, 96))
    write_split(tmp_path, "test", n=8)
    info = inspect_data_dir(tmp_path, cache_dir=tmp_path / "cache")
    assert list(info["splits"]) == ["valid", "test"]
    valid = info["splits"]["valid"]
    assert (valid["n"], valid["positives"], valid["positive_share"]) == (8, 2, 0.25)
    assert valid["x_shape"] == (8, 96, 96, 3) and valid["y_shape"] == (8, 1, 1, 1)
    assert valid["compression"].startswith("gzip") and valid["chunks"] == (8, 96, 96, 3)
    assert valid["has_masks"] and not info["splits"]["test"]["has_masks"]
    assert not valid["has_meta"] and not valid["gzipped"]
    text = format_inspection(info)
    assert "valid: 8 patches, 2 positive (25.0%)" in text and "gzip" in text and "masks: yes" in text


def test_inspect_empty_directory(tmp_path):
    with pytest.raises(DataError, match="no PCam files"):
        inspect_data_dir(tmp_path)


def test_demo_data_is_generated_once_and_reused(tmp_path, monkeypatch):
    sizes = {"train": 8, "valid": 8, "test": 4}
    path = ensure_demo_data(tmp_path, seed=4, sizes=sizes)
    assert path.name.startswith("synthetic-pcam-seed4-v") and path.parent == tmp_path
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".partial")]
    with open_pcam(path, splits=("train", "valid", "test")) as data:
        assert data.source == "synthetic" and len(data.split("test")) == 4

    def must_not_run(*args, **kwargs):
        raise AssertionError("generator called although the data exist")

    monkeypatch.setattr(demo, "write_synthetic_pcam", must_not_run)
    assert ensure_demo_data(tmp_path, seed=4, sizes=sizes) == path


def test_demo_data_failure_leaves_no_directory(tmp_path, monkeypatch):
    def broken(out_dir, **kwargs):
        (out_dir / "half.h5").write_bytes(b"x")
        raise RuntimeError("disk full")

    monkeypatch.setattr(demo, "write_synthetic_pcam", broken)
    with pytest.raises(RuntimeError):
        ensure_demo_data(tmp_path, seed=9, sizes={"train": 4, "valid": 4, "test": 4})
    # Nothing of the data set is left; the lock file beside it blocks nothing (an OS lock, released on exit).
    assert [path for path in tmp_path.iterdir() if path.suffix != ".lock"] == []


def test_default_demo_location_follows_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("REPORTGEN_CACHE", str(tmp_path / "env-cache"))
    path = ensure_demo_data(seed=0, sizes={"train": 4, "valid": 4, "test": 4})
    assert path.parent == tmp_path / "env-cache"
    with h5py.File(path / X_NAME.format(split="train")) as handle:
        assert handle["x"].shape == (4, 96, 96, 3)
