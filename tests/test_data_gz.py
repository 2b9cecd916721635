"""The downloaded ``.h5.gz`` form: decompressed once, atomically, and checked."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from data_fixtures import X_NAME, Y_NAME, gzip_file, write_split

from reportgen.data import gunzip, inspect_data_dir, open_pcam
from reportgen.errors import DataError


@pytest.fixture
def gz_dir(tmp_path):
    directory = tmp_path / "download"
    images, labels = write_split(directory, "valid", n=64)
    gzip_file(directory / X_NAME.format(split="valid"))
    gzip_file(directory / Y_NAME.format(split="valid"))
    return directory, images, labels


def cached_files(cache):
    """The cache's files, less the lock files (an OS lock beside an entry, which blocks nothing once released)."""
    return sorted(path.name for path in cache.iterdir() if path.suffix != ".lock") if cache.exists() else []


def test_gz_files_read_like_plain_ones(gz_dir, tmp_path):
    directory, images, labels = gz_dir
    cache = tmp_path / "cache"
    with open_pcam(directory, splits=("valid",), cache_dir=cache) as data:
        batch = data.split("valid").read([9, 1])
        assert np.array_equal(batch.images, images[[9, 1]])
        assert np.array_equal(data.split("valid").labels, labels)
    names = cached_files(cache)
    assert len(names) == 2 and all(name.endswith(".h5") and not name.startswith(".") for name in names)


def test_decompression_happens_once_and_is_reused(gz_dir, tmp_path, monkeypatch):
    directory, _, _ = gz_dir
    cache = tmp_path / "cache"
    first = open_pcam(directory, splits=("valid",), cache_dir=cache)
    first.close()
    before = {path.name: path.stat().st_mtime_ns for path in cache.iterdir()}

    def must_not_decompress(*args, **kwargs):
        raise AssertionError("decompressed again although the cache is up to date")

    monkeypatch.setattr(gunzip.gzip, "open", must_not_decompress)
    second = open_pcam(directory, splits=("valid",), cache_dir=cache)
    second.close()
    assert {path.name: path.stat().st_mtime_ns for path in cache.iterdir()} == before
    assert first.fingerprint == second.fingerprint


def test_two_runs_that_need_one_download_decompress_it_once(gz_dir, tmp_path, monkeypatch):
    directory, _, _ = gz_dir
    packed = directory / (X_NAME.format(split="valid") + ".gz")
    opened, real_open = [], gunzip.gzip.open

    def slow_open(*args, **kwargs):
        opened.append(args[0])
        time.sleep(0.5)  # long enough for the other run to ask for the same copy meanwhile
        return real_open(*args, **kwargs)

    monkeypatch.setattr(gunzip.gzip, "open", slow_open)
    cache = tmp_path / "cache"
    with ThreadPoolExecutor(2) as pool:
        copies = list(pool.map(lambda _: gunzip.decompress_once(packed, cache), range(2)))
    assert copies[0] == copies[1] and copies[0].is_file()
    assert len(opened) == 1


def test_fingerprint_of_gz_matches_plain_files(tmp_path):
    write_split(tmp_path / "plain", "valid", n=16, seed=7)
    write_split(tmp_path / "packed", "valid", n=16, seed=7)
    for part in (X_NAME, Y_NAME):
        gzip_file(tmp_path / "packed" / part.format(split="valid"))
    plain = open_pcam(tmp_path / "plain", splits=("valid",), cache_dir=tmp_path / "cache")
    packed = open_pcam(tmp_path / "packed", splits=("valid",), cache_dir=tmp_path / "cache")
    assert plain.fingerprint == packed.fingerprint


def test_truncated_gz_is_rejected_and_leaves_no_cache_file(gz_dir, tmp_path):
    directory, _, _ = gz_dir
    packed = directory / (X_NAME.format(split="valid") + ".gz")
    content = packed.read_bytes()
    packed.write_bytes(content[: len(content) // 2])
    cache = tmp_path / "cache"
    with pytest.raises(DataError, match=r"_x\.h5\.gz: truncated or corrupt"):
        open_pcam(directory, splits=("valid",), cache_dir=cache)
    assert not any("_x.h5" in name for name in cached_files(cache))


def test_corrupt_gz_is_rejected(gz_dir, tmp_path):
    directory, _, _ = gz_dir
    packed = directory / (Y_NAME.format(split="valid") + ".gz")
    content = bytearray(packed.read_bytes())
    # Flip bytes in the middle of the deflate stream; the CRC check must catch it.
    middle = len(content) // 2
    content[middle : middle + 8] = bytes(255 - value for value in content[middle : middle + 8])
    packed.write_bytes(bytes(content))
    with pytest.raises(DataError, match=r"_y\.h5\.gz"):
        open_pcam(directory, splits=("valid",), cache_dir=tmp_path / "cache")
    assert not any(name.startswith(".partial") for name in cached_files(tmp_path / "cache"))


def test_not_gzip_at_all_is_rejected(gz_dir, tmp_path):
    directory, _, _ = gz_dir
    (directory / (X_NAME.format(split="valid") + ".gz")).write_bytes(b"<html>error page</html>")
    with pytest.raises(DataError, match="not a gzip file"):
        open_pcam(directory, splits=("valid",), cache_dir=tmp_path / "cache")


def test_leftover_partial_file_is_never_used(gz_dir, tmp_path):
    directory, images, _ = gz_dir
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / ".partial-anything.h5.abc").write_bytes(b"half written")
    with open_pcam(directory, splits=("valid",), cache_dir=cache) as data:
        assert np.array_equal(data.split("valid").read([3]).images, images[[3]])


def test_replaced_download_gets_a_fresh_copy(gz_dir, tmp_path):
    directory, _, _ = gz_dir
    cache = tmp_path / "cache"
    open_pcam(directory, splits=("valid",), cache_dir=cache).close()
    write_split(directory, "valid", n=32, seed=11)
    (directory / (X_NAME.format(split="valid") + ".gz")).unlink()
    (directory / (Y_NAME.format(split="valid") + ".gz")).unlink()
    gzip_file(directory / X_NAME.format(split="valid"))
    gzip_file(directory / Y_NAME.format(split="valid"))
    with open_pcam(directory, splits=("valid",), cache_dir=cache) as data:
        assert len(data.split("valid")) == 32


def test_inspect_marks_gz_downloads(gz_dir, tmp_path):
    directory, _, _ = gz_dir
    info = inspect_data_dir(directory, cache_dir=tmp_path / "cache")
    assert info["splits"]["valid"]["gzipped"] and info["splits"]["valid"]["x_file"].endswith(".h5.gz")
