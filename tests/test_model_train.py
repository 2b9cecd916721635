"""Training on a tiny, easy in-memory data set: learning, determinism, early stopping,
resume, the head recipe's frozen backbone and feature cache, the checkpoint cache, and
the registry of training recipes."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pytest
import torch

import reportgen.model.features as features_module
from reportgen.config import RECIPES
from reportgen.errors import ConfigError
from reportgen.model.checkpoint import load_checkpoint
from reportgen.model.evaluate import evaluate_model
from reportgen.model.network import PCamClassifier
from reportgen.model.recipes import FullRecipe, HeadRecipe, TrainingRecipe, get_recipe, list_recipes
from reportgen.model.settings import DEMO_TRAIN_SETTINGS, TrainSettings, demo_train_settings
from reportgen.model.train import train_model, train_or_load

SIDE = 16


@dataclass
class FakeBatch:
    images: np.ndarray
    labels: np.ndarray
    masks: None
    indices: np.ndarray


class FakeSplit:
    """In-memory split with the PCam split interface: tumour patches bright, normal ones dark."""

    def __init__(self, n: int, seed: int):
        rng = np.random.default_rng(seed)
        self.labels = np.tile(np.array([0, 1], dtype=np.int64), n // 2)
        base = np.where(self.labels[:, None, None, None] == 1, 190, 60)
        noise = rng.integers(-40, 41, size=(n, SIDE, SIDE, 3))
        self.images = np.clip(base + noise, 0, 255).astype(np.uint8)
        self.patch_size = SIDE

    def __len__(self) -> int:
        return len(self.labels)

    def read(self, indices):
        indices = np.asarray(indices)
        return FakeBatch(self.images[indices], self.labels[indices], None, indices)

    def iter_batches(self, batch_size, *, indices=None, shuffle=False, seed=0, progress=False):
        order = np.arange(len(self)) if indices is None else np.asarray(indices)
        if shuffle:
            order = np.random.default_rng(seed).permutation(order)
        for start in range(0, len(order), batch_size):
            yield self.read(order[start : start + batch_size])


class FakeDataset:
    def __init__(self, n_train: int = 64, n_valid: int = 32, fingerprint: str = "fake-1"):
        self.fingerprint = fingerprint
        self.source = "synthetic"
        self.splits = {"train": FakeSplit(n_train, seed=1), "valid": FakeSplit(n_valid, seed=2)}

    def split(self, name):
        return self.splits[name]


QUICK = TrainSettings(epochs=1, batch_size=32, lr=1e-3, augment=True, eval_batch_size=32)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # Tiny batches gain nothing from a second thread, and on a busy 2-core machine it costs a lot.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def dataset():
    return FakeDataset()


def _states_equal(first: dict, second: dict) -> bool:
    return first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)


def test_training_learns_the_easy_task(dataset):
    torch.manual_seed(0)
    before = evaluate_model(PCamClassifier(QUICK.resolved_preprocessing()).eval(), dataset.split("valid"))
    model, info = train_model(dataset, replace(QUICK, epochs=2, augment=False), progress=False)
    after = evaluate_model(model, dataset.split("valid"))
    assert after["accuracy"] >= 0.9 and after["accuracy"] > before["accuracy"]
    assert info["evaluation"]["accuracy"] == pytest.approx(max(h["val_accuracy"] for h in info["history"]))
    assert info["history"][-1]["loss"] < info["history"][0]["loss"]
    assert not model.training


def test_same_seed_same_weights_other_seed_differs(dataset):
    first, _ = train_model(dataset, QUICK, progress=False)
    second, _ = train_model(dataset, QUICK, progress=False)
    other, _ = train_model(dataset, replace(QUICK, seed=1), progress=False)
    assert _states_equal(first.state_dict(), second.state_dict())
    assert not _states_equal(first.state_dict(), other.state_dict())


def test_early_stopping_without_improvement(dataset):
    # A vanishing learning rate leaves predictions unchanged, so no epoch beats the first.
    settings = replace(QUICK, recipe="head", epochs=6, patience=2, lr=1e-12)
    _, info = train_model(dataset, settings, progress=False)
    assert info["stopped"] == "early_stopping"
    assert info["epochs_run"] == 3 and info["best_epoch"] == 1


def test_time_cap_stops_training(dataset):
    _, info = train_model(dataset, replace(QUICK, epochs=4, max_train_seconds=1e-6), progress=False)
    assert info["stopped"] == "time_cap" and info["epochs_run"] == 1
    assert info["history"][0]["images"] == QUICK.batch_size


def test_resume_matches_a_straight_run(dataset, tmp_path):
    two_epochs = replace(QUICK, epochs=2)
    straight, straight_info = train_model(dataset, two_epochs, progress=False)
    checkpoint = tmp_path / "first.pt"
    train_model(dataset, QUICK, progress=False, checkpoint_path=checkpoint)
    resumed, info = train_model(dataset, two_epochs, progress=False, resume=checkpoint)
    assert _states_equal(straight.state_dict(), resumed.state_dict())
    assert [h["epoch"] for h in info["history"]] == [1, 2]
    assert info["history"][1]["val_accuracy"] == straight_info["history"][1]["val_accuracy"]
    with pytest.raises(ConfigError, match="recipe"):
        train_model(dataset, replace(two_epochs, recipe="head"), progress=False, resume=checkpoint)


def test_head_recipe_freezes_backbone_and_caches_features(dataset, tmp_path, monkeypatch):
    settings = replace(QUICK, recipe="head", epochs=3, lr=1e-2)
    torch.manual_seed(0)
    model, info = train_model(dataset, settings, progress=False, cache_dir=tmp_path)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(settings.seed)
        initial = PCamClassifier(settings.resolved_preprocessing())
    trained = model.backbone.state_dict()
    for name, value in initial.backbone.state_dict().items():
        if name.startswith("fc."):
            assert not torch.equal(value, trained[name]), name
        else:
            assert torch.equal(value, trained[name]), name
    assert info["feature_cache_hit"] == {"train": False, "valid": False}
    assert len(list((tmp_path / "features").glob("*.pt"))) == 2

    def no_extraction(*args, **kwargs):
        raise AssertionError("features should come from the cache")

    monkeypatch.setattr(features_module, "extract_features", no_extraction)
    again, info_again = train_model(dataset, settings, progress=False, cache_dir=tmp_path)
    assert info_again["feature_cache_hit"] == {"train": True, "valid": True}
    assert _states_equal(model.state_dict(), again.state_dict())


def test_train_or_load_reuses_the_cached_checkpoint(dataset, tmp_path, monkeypatch):
    settings = replace(QUICK, recipe="head", epochs=2)
    first = train_or_load(dataset, settings, cache_dir=tmp_path, progress=False)
    assert first.info["cache_hit"] is False and first.info["format"] == "reportgen-v1"
    assert first.info["data_fingerprint"] == dataset.fingerprint
    assert first.info["evaluation"]["n"] == len(dataset.split("valid"))
    assert list((tmp_path / "checkpoints").glob("*.partial.pt")) == []

    import reportgen.model.train as train_module

    monkeypatch.setattr(train_module, "train_model", lambda *a, **k: pytest.fail("retrained"))
    second = train_or_load(dataset, settings, cache_dir=tmp_path, progress=False)
    assert second.info["cache_hit"] is True and second.info["sha256"] == first.info["sha256"]
    monkeypatch.undo()
    other_data = FakeDataset(fingerprint="fake-2")
    third = train_or_load(other_data, settings, cache_dir=tmp_path, progress=False)
    assert third.info["cache_hit"] is False
    loaded = load_checkpoint(tmp_path / "checkpoints" / f"{third.info['key']}.pt")
    assert loaded.info["recipe"] == "head"


def test_settings_validation_and_key():
    assert TrainSettings().key() == TrainSettings().key()
    assert TrainSettings().key() != TrainSettings(seed=1).key()
    assert DEMO_TRAIN_SETTINGS.to_dict()["recipe"] == "full"
    for bad in ({"recipe": "partial"}, {"precision": "fp8"}, {"epochs": 0}, {"train_fraction": 1.5},
                {"lr": -1.0}, {"preprocessing": "bogus"}, {"eval_limit": 0}):
        with pytest.raises(ConfigError):
            TrainSettings(**bad)
    assert TrainSettings().resolved_preprocessing().std == (1.0, 1.0, 1.0)
    assert TrainSettings(weights="imagenet").resolved_preprocessing().mean[0] == pytest.approx(0.485)


def test_registered_recipes_are_the_configurable_ones():
    # config.RECIPES is what --recipe and TrainSettings accept; every name needs an object.
    assert list_recipes() == list(RECIPES)
    assert get_recipe("full") is FullRecipe and get_recipe("head") is HeadRecipe


@pytest.mark.parametrize("name", list_recipes())
def test_each_recipe_name_resolves_to_its_recipe(name):
    recipe_class = get_recipe(name)
    assert issubclass(recipe_class, TrainingRecipe) and recipe_class.name == name
    recipe = recipe_class(demo_train_settings(name))
    assert recipe.settings.recipe == name


def test_unknown_recipe_lists_the_valid_ones():
    with pytest.raises(ConfigError, match="unknown recipe 'partial'; choose from: full, head"):
        get_recipe("partial")
    with pytest.raises(ConfigError, match="choose from: full, head"):
        TrainSettings(recipe="partial")
