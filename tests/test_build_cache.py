"""The result cache: entries are validated on read, and keyed by the code that computed them.

A corrupt or malformed entry is recomputed (and gives the same numbers), never
trusted; an entry written by other code (another :func:`code_version`) is never
read, so an upgrade that fixes a metric or an explainer recomputes.
"""

import numpy as np
import pytest

from reportgen import cache as cache_module
from reportgen.cache import ArrayCache, code_version
from reportgen.data import PCamSplit, open_pcam
from reportgen.pipeline.data import MEAN_COLOUR_PATCHES, dataset_mean_colour


@pytest.fixture
def reads(monkeypatch):
    """Every PCamSplit.read call's number of patches, in order."""
    calls = []
    original = PCamSplit.read

    def spy(self, indices):
        calls.append(len(np.atleast_1d(indices)))
        return original(self, indices)

    monkeypatch.setattr(PCamSplit, "read", spy)
    return calls


def _entry_files(cache: ArrayCache) -> list:
    return sorted(cache.root.rglob("*.npz"))


def test_mean_colour_is_read_once_then_served_from_the_cache(tmp_path, tiny_pcam, reads):
    data = open_pcam(tiny_pcam, splits=("train", "valid"))
    cache = ArrayCache(tmp_path / "results")
    first = dataset_mean_colour(data, "valid", cache=cache)
    assert reads == [min(64, MEAN_COLOUR_PATCHES)]  # the training split, read once
    second = dataset_mean_colour(data, "valid", cache=cache)
    assert reads == [64]  # no second read
    assert second == first
    uncached = dataset_mean_colour(data, "valid")
    assert uncached == first  # the same floats, bit for bit
    assert all(0.0 <= value <= 1.0 for value in first)


@pytest.mark.parametrize("damage", ["garbage bytes", "wrong shape", "out of range", "not finite", "wrong dtype"])
def test_a_damaged_cached_mean_colour_is_recomputed(tmp_path, tiny_pcam, reads, damage):
    data = open_pcam(tiny_pcam, splits=("valid",))
    cache = ArrayCache(tmp_path / "results")
    expected = dataset_mean_colour(data, "valid", cache=cache)
    (path,) = _entry_files(cache)
    if damage == "garbage bytes":
        path.write_bytes(b"not a zip file")
    else:
        value = {"wrong shape": np.array([0.5, 0.5]), "out of range": np.array([0.5, 1.5, 0.5]),
                 "not finite": np.array([0.5, np.nan, 0.5]), "wrong dtype": np.array([0, 1, 0])}[damage]
        with open(path, "wb") as handle:
            np.savez(handle, mean=value)
    assert dataset_mean_colour(data, "valid", cache=cache) == expected
    assert reads == [48, 48]  # recomputed from the split
    assert dataset_mean_colour(data, "valid", cache=cache) == expected
    assert reads == [48, 48]  # and the repaired entry is used again


def test_mean_colour_key_follows_the_data_and_the_split_read(tmp_path, tiny_pcam, reads):
    cache = ArrayCache(tmp_path / "results")
    with_train = open_pcam(tiny_pcam, splits=("train", "valid"))
    valid_only = open_pcam(tiny_pcam, splits=("valid",))
    from_train = dataset_mean_colour(with_train, "valid", cache=cache)
    from_valid = dataset_mean_colour(valid_only, "valid", cache=cache)
    assert reads == [64, 48]  # a different split read is a different entry
    assert from_train != from_valid
    valid_only.fingerprint = "another data set"
    dataset_mean_colour(valid_only, "valid", cache=cache)
    assert reads == [64, 48, 48]  # so is a different fingerprint


def test_memo_computes_once_and_recomputes_an_entry_that_fails_validation(tmp_path):
    cache = ArrayCache(tmp_path, version="v1")
    calls = []

    def compute():
        calls.append(1)
        return {"x": np.arange(3.0)}

    key = cache.key(kind="test")
    first, hit = cache.memo(key, compute, lambda entry: entry["x"].shape == (3,))
    assert (hit, len(calls)) == (False, 1)
    again, hit = cache.memo(key, compute, lambda entry: entry["x"].shape == (3,))
    assert (hit, len(calls)) == (True, 1)
    np.testing.assert_array_equal(again["x"], first["x"])
    _, hit = cache.memo(key, compute, lambda entry: entry["x"].shape == (4,))  # the caller now needs another shape
    assert (hit, len(calls)) == (False, 2)
    _, hit = cache.memo(key, compute, lambda entry: entry["missing"] is not None)  # a missing array is invalid too
    assert (hit, len(calls)) == (False, 3)


def test_memo_rows_computes_only_the_missing_rows_in_one_call(tmp_path):
    cache = ArrayCache(tmp_path, version="v1")
    asked = []

    def compute(rows):
        asked.append(list(rows))
        return [{"row": np.array([row * 10.0])} for row in rows]

    keys = [cache.key(kind="row", row=row) for row in range(4)]
    cache.memo_rows(keys[1:3], lambda rows: compute([row + 1 for row in rows]), lambda entry: True)
    entries, computed = cache.memo_rows(keys, compute, lambda entry: entry["row"].shape == (1,))
    assert computed == [0, 3] and asked == [[1, 2], [0, 3]]
    assert [float(entry["row"][0]) for entry in entries] == [0.0, 10.0, 20.0, 30.0]


def test_another_code_version_never_reads_the_entries_of_this_one(tmp_path):
    old, new = ArrayCache(tmp_path, version="old"), ArrayCache(tmp_path, version="new")
    old.put(old.key(kind="curve", patch=1), {"curve": np.zeros(3)})
    assert old.get(old.key(kind="curve", patch=1)) is not None
    assert new.get(new.key(kind="curve", patch=1)) is None


def test_code_version_follows_the_computing_sources_and_ignores_the_presentation(tmp_path, monkeypatch):
    package = tmp_path / "reportgen"
    for relative in ("metrics/faithfulness.py", "report/context.py", "judgement/summary.py", "cache.py"):
        (package / relative).parent.mkdir(parents=True, exist_ok=True)
        (package / relative).write_text("x = 1\n")
    monkeypatch.setattr(cache_module, "__file__", str(package / "cache.py"))

    def version():
        cache_module.code_version.cache_clear()
        return cache_module.code_version()

    try:
        original = version()
        (package / "report/context.py").write_text("x = 2  # a reworded sentence\n")
        (package / "judgement/summary.py").write_text("x = 2  # a reworded warning\n")
        assert version() == original
        (package / "metrics/faithfulness.py").write_text("x = 2  # a fixed metric\n")
        assert version() != original
    finally:
        monkeypatch.undo()
        cache_module.code_version.cache_clear()
    assert len(code_version()) == 64
