"""The head recipe's feature pass: folded BatchNorm, only the patches used, the
reader thread, validation from cached features, demo defaults and the
``reportgen train`` feature cache."""

from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np
import pytest
import torch

# one_thread is an autouse fixture: importing it applies it to this module too.
from test_model_train import FakeDataset, one_thread  # noqa: F401

import reportgen.model.features as features_module
from reportgen.errors import ConfigError, DataError
from reportgen.model.evaluate import evaluate_model
from reportgen.model.features import _prefetched, extract_features, fold_batchnorm
from reportgen.model.network import PCamClassifier, parse_preprocessing
from reportgen.model.settings import DEMO_TRAIN_SETTINGS, TrainSettings, demo_train_settings
from reportgen.model.train import train_model

HEAD = TrainSettings(recipe="head", epochs=3, batch_size=16, lr=1e-2, eval_batch_size=32)


def _trained_bn_model(seed: int = 0) -> PCamClassifier:
    """A classifier whose BatchNorm layers hold non-trivial statistics and affine parameters."""
    torch.manual_seed(seed)
    model = PCamClassifier(parse_preprocessing("0.5,0.4,0.3:0.2,0.25,0.3"))
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.2, 0.2)
    return model.eval()


def test_folded_backbone_matches_the_eval_backbone_and_leaves_it_unchanged():
    model = _trained_bn_model()
    before = {name: value.clone() for name, value in model.state_dict().items()}
    folded = fold_batchnorm(model.backbone)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    reference = copy.deepcopy(model.backbone)
    reference.fc = torch.nn.Identity()
    images = torch.rand(4, 3, 96, 96)
    with torch.inference_mode():
        expected = reference(model.normalize(images))
        actual = folded(model.normalize(images))
    assert actual.shape == (4, 512)
    torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-4)
    assert all(torch.equal(before[name], value) for name, value in model.state_dict().items())
    assert isinstance(model.backbone.fc, torch.nn.Linear)


def test_head_logits_on_extracted_features_equal_the_model_on_images():
    model = _trained_bn_model(seed=1)
    split = FakeDataset(n_valid=24).split("valid")
    features, labels = extract_features(model, split, batch_size=10)
    assert features.shape == (24, 512) and torch.equal(labels, torch.as_tensor(split.labels))
    images = torch.from_numpy(split.images).permute(0, 3, 1, 2).float() / 255
    with torch.inference_mode():
        torch.testing.assert_close(model.backbone.fc(features), model(images), rtol=1e-4, atol=1e-4)
    subset = np.array([1, 4, 5, 20])
    sub_features, sub_labels = extract_features(model, split, indices=subset)
    torch.testing.assert_close(sub_features, features[subset], rtol=1e-5, atol=1e-5)
    assert torch.equal(sub_labels, labels[subset])


def test_head_validation_comes_from_features_and_matches_a_full_evaluation():
    dataset = FakeDataset()
    model, info = train_model(dataset, HEAD, progress=False)
    direct = evaluate_model(model, dataset.split("valid"))
    assert info["evaluation"]["n"] == direct["n"] == len(dataset.split("valid"))
    assert info["evaluation"]["confusion_matrix"] == direct["confusion_matrix"]
    assert info["evaluation"]["roc_auc"] == pytest.approx(direct["roc_auc"], abs=1e-6)
    assert info["evaluation"]["ece"] == pytest.approx(direct["ece"], abs=1e-5)


def test_head_recipe_computes_features_only_for_the_patches_it_uses(monkeypatch):
    seen = {}
    real = features_module.extract_features

    def counting(model, split, *, indices=None, **kwargs):
        seen[len(split)] = None if indices is None else np.asarray(indices).copy()
        return real(model, split, indices=indices, **kwargs)

    monkeypatch.setattr(features_module, "extract_features", counting)
    dataset = FakeDataset(n_train=64, n_valid=32)
    settings = replace(HEAD, train_fraction=0.25, eval_limit=10)
    _, info = train_model(dataset, settings, progress=False)
    train_subset, valid_subset = seen[64], seen[32]
    assert len(train_subset) == 16 == info["train_size"]
    assert np.bincount(dataset.split("train").labels[train_subset]).tolist() == [8, 8]
    assert len(valid_subset) == 10 == info["evaluation"]["n"]
    assert all(entry["images"] == 16 for entry in info["history"])


def test_head_recipe_writes_its_checkpoint_once(tmp_path, monkeypatch):
    import reportgen.model.train as train_module

    calls = []
    real = train_module._save
    monkeypatch.setattr(train_module, "_save", lambda *a, **k: calls.append(1) or real(*a, **k))
    _, info = train_model(FakeDataset(), replace(HEAD, epochs=3), progress=False,
                          checkpoint_path=tmp_path / "head.pt")
    assert len(calls) == 1 and (tmp_path / "head.pt").is_file()
    assert info["checkpoint_sha256"]


def test_prefetched_keeps_order_and_passes_reader_errors_on():
    assert list(_prefetched(iter(range(20)), lambda item: item * 2)) == [2 * i for i in range(20)]

    def failing():
        yield 1
        raise DataError("chunk 3 is corrupt")

    with pytest.raises(DataError, match="chunk 3"):
        list(_prefetched(failing(), lambda item: item))


def test_prefetched_stops_its_reader_when_the_consumer_stops():
    produced = []

    def endless():
        for index in range(10_000):
            produced.append(index)
            yield index

    stream = _prefetched(endless(), lambda item: item, depth=2)
    assert next(stream) == 0
    stream.close()  # joins the reader thread
    assert len(produced) < 10


def test_demo_settings_per_recipe():
    head = demo_train_settings("head")
    assert (head.recipe, head.train_fraction, head.epochs) == ("head", 0.1, 5)
    assert demo_train_settings("full") == DEMO_TRAIN_SETTINGS
    assert demo_train_settings("full", train_fraction=None, epochs=None) == DEMO_TRAIN_SETTINGS
    assert demo_train_settings("head", train_fraction=0.5).train_fraction == 0.5
    assert demo_train_settings("head", weights="x.pth").to_dict()["train_fraction"] == 0.1
    with pytest.raises(ConfigError, match="recipe"):
        demo_train_settings("partial")
    with pytest.raises(ConfigError, match="train_fraction"):
        demo_train_settings("head", train_fraction=2.0)


def test_train_command_caches_features_and_records_the_head_defaults(tiny_pcam, tmp_path, isolated_cache, monkeypatch):
    from reportgen.cli import main
    from reportgen.model.checkpoint import safe_torch_load

    torch.manual_seed(0)
    backbone = tmp_path / "backbone.pth"
    torch.save(PCamClassifier().backbone.state_dict(), backbone)
    args = ["train", "--data-dir", str(tiny_pcam), "--recipe", "head", "--weights", str(backbone), "-q"]
    assert main(args + ["--out", str(tmp_path / "first.pt")]) == 0
    stored = list((isolated_cache / "features").glob("*.pt"))
    assert len(stored) == 2
    first = safe_torch_load(tmp_path / "first.pt")
    assert first["training"]["train_fraction"] == 0.1 and first["training"]["epochs"] == 5
    assert 0 < first["training"]["train_size"] <= 8  # a tenth of the 64 training patches

    def no_extraction(*args, **kwargs):
        raise AssertionError("features should come from the cache")

    monkeypatch.setattr(features_module, "extract_features", no_extraction)
    assert main(args + ["--out", str(tmp_path / "second.pt")]) == 0
    second = safe_torch_load(tmp_path / "second.pt")
    assert second["evaluation"]["accuracy"] == first["evaluation"]["accuracy"]
    assert all(torch.equal(first["state_dict"][k], second["state_dict"][k]) for k in first["state_dict"])
