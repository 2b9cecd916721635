"""Checkpoint loading: every layout, the refusals, preprocessing parsing, initial weights."""

from __future__ import annotations

import pickle

import pytest
import torch
from torchvision.models import resnet18, resnet34

from reportgen.errors import CheckpointError, ConfigError
from reportgen.model.checkpoint import load_checkpoint, save_checkpoint
from reportgen.model.network import (
    IDENTITY_PREPROCESSING,
    PCamClassifier,
    Preprocessing,
    parse_preprocessing,
)
from reportgen.model.weights import imagenet_state_dict, initial_backbone_state


def _notebook_network(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    network = resnet18(weights=None)
    network.fc = torch.nn.Linear(512, 2)
    # Non-trivial BatchNorm statistics, so a loader that forgot buffers would be caught.
    for module in network.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    return network.eval()


@pytest.fixture(scope="module")
def images():
    return torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(1))


def _assert_same_predictions(loaded, network, images):
    with torch.inference_mode():
        torch.testing.assert_close(loaded(images), network(images))


def test_notebook_dict_loads_with_identity_preprocessing(tmp_path, images):
    network = _notebook_network()
    optimizer = torch.optim.Adam(network.parameters())
    path = tmp_path / "best_model.pth"
    torch.save({"epoch": 3, "model_state_dict": network.state_dict(),
                "optimizer_state_dict": optimizer.state_dict(), "val_acc": 0.8719, "loss": 0.18}, path)
    loaded = load_checkpoint(path)
    assert loaded.info["format"] == "notebook"
    assert loaded.info["preprocessing"] == IDENTITY_PREPROCESSING.to_dict()
    assert loaded.info["training"]["val_acc"] == pytest.approx(0.8719)
    assert loaded.info["epoch"] == 3 and loaded.info["recipe"] == "full"
    assert len(loaded.info["sha256"]) == 64
    assert not loaded.model.training
    _assert_same_predictions(loaded.model, network, images)


def test_plain_state_dict_with_parallel_prefix_assumes_identity(tmp_path, images):
    network = _notebook_network(seed=1)
    path = tmp_path / "resnet18_patchcamelyon_final.pth"
    torch.save({f"module.{key}": value for key, value in network.state_dict().items()}, path)
    loaded = load_checkpoint(path)
    assert loaded.info["format"] == "state_dict"
    assert loaded.info["preprocessing_source"] == "assumed"
    _assert_same_predictions(loaded.model, network, images)


def _prefixed(network, prefix):
    return {f"{prefix}{key}": value for key, value in network.state_dict().items()}


@pytest.mark.parametrize("layout, payload, fmt, prefix", [
    ("DataParallel/DDP", lambda net: _prefixed(net, "module."), "state_dict", "module."),
    ("state_dict wrapper", lambda net: {"state_dict": net.state_dict(), "epoch": 4}, "state_dict", ""),
    ("wrapped DDP", lambda net: {"state_dict": _prefixed(net, "module.")}, "state_dict", "module."),
    ("Lightning .ckpt", lambda net: {"state_dict": _prefixed(net, "model."), "epoch": 7, "global_step": 700,
                                     "pytorch-lightning_version": "2.4.0", "hyper_parameters": {"lr": 1e-3},
                                     "optimizer_states": [], "lr_schedulers": [], "callbacks": {}},
     "lightning", "model."),
    ("Lightning wrapping DDP", lambda net: {"state_dict": _prefixed(net, "model.module."),
                                            "hyper_parameters": {}}, "lightning", "model.module."),
])
def test_checkpoints_of_the_usual_trainers_load_and_record_their_layout(tmp_path, images, layout, payload, fmt,
                                                                        prefix):
    network = _notebook_network(seed=2)
    path = tmp_path / "trainer.ckpt"
    torch.save(payload(network), path)
    loaded = load_checkpoint(path)
    assert (loaded.info["format"], loaded.info["key_prefix"]) == (fmt, prefix), layout
    _assert_same_predictions(loaded.model, network, images)


@pytest.mark.parametrize("payload, message", [
    (lambda net: {"state_dict": {**_prefixed(net, "model."), **_prefixed(net, "ema_model.")},
                  "hyper_parameters": {}}, "ambiguous checkpoint: a resnet18 under 'ema_model.', 'model.'"),
    (lambda net: {**_prefixed(net, "model."), "loss.pos_weight": torch.ones(1)},
     "ambiguous checkpoint: a resnet18 under 'model.' beside other keys under 'loss.'"),
    (lambda net: {"state_dict": {key: value for key, value in net.state_dict().items() if "layer4" not in key}},
     "incomplete resnet18 state dict"),
])
def test_ambiguous_or_partial_trainer_checkpoints_are_refused_saying_what_was_found(tmp_path, payload, message):
    path = tmp_path / "odd.ckpt"
    torch.save(payload(_notebook_network()), path)
    with pytest.raises(CheckpointError, match=message.replace(".", r"\.").replace("(", r"\(")):
        load_checkpoint(path)


@pytest.mark.parametrize("poison, names", [
    (lambda sd: sd["fc.weight"].fill_(float("nan")), "fc.weight"),
    (lambda sd: sd["layer2.0.conv1.weight"].view(-1)[5].fill_(float("inf")), "layer2.0.conv1.weight"),
])
def test_non_finite_weights_are_refused_naming_the_tensors(tmp_path, poison, names):
    state_dict = _notebook_network().state_dict()
    poison(state_dict)
    path = tmp_path / "diverged.pth"
    torch.save(state_dict, path)
    with pytest.raises(CheckpointError, match=f"1 weight tensor holds NaN or infinite values \\({names}\\); "
                                              "the training run that wrote it probably diverged"):
        load_checkpoint(path)


def test_preprocessing_argument_overrides(tmp_path, images):
    network = _notebook_network(seed=2)
    path = tmp_path / "final.pth"
    torch.save(network.state_dict(), path)
    imagenet = parse_preprocessing("imagenet")
    loaded = load_checkpoint(path, preprocessing=imagenet)
    assert loaded.info["preprocessing_source"] == "argument"
    normalised = (images - torch.tensor(imagenet.mean).view(1, 3, 1, 1)) / torch.tensor(imagenet.std).view(1, 3, 1, 1)
    with torch.inference_mode():
        torch.testing.assert_close(loaded.model(images), network(normalised))


def test_reportgen_round_trip(tmp_path, images):
    torch.manual_seed(5)
    preprocessing = Preprocessing(mean=(0.7, 0.5, 0.7), std=(0.2, 0.25, 0.2))
    model = PCamClassifier(preprocessing).eval()
    history = [{"epoch": 1, "loss": 0.5, "val_accuracy": 0.75, "seconds": 1.0, "images": 8, "images_per_second": 8.0}]
    evaluation = {"accuracy": 0.75, "confusion_matrix": [[3, 1], [1, 3]], "roc_auc": None}
    path = tmp_path / "sub" / "model.pt"
    digest = save_checkpoint(path, model, recipe="head", weights="imagenet", training={"epochs": 1},
                             history=history, evaluation=evaluation, data_fingerprint="abc", epoch=1)
    raw = torch.load(path, map_location="cpu", weights_only=True)
    assert raw["format"] == "reportgen-v1" and raw["architecture"] == "resnet18"
    loaded = load_checkpoint(path)
    info = loaded.info
    assert info["format"] == "reportgen-v1" and info["sha256"] == digest
    assert info["recipe"] == "head" and info["weights"] == "imagenet"
    assert info["history"] == history and info["evaluation"] == evaluation
    assert info["data_fingerprint"] == "abc" and info["epoch"] == 1
    assert Preprocessing.from_dict(info["preprocessing"]) == preprocessing
    _assert_same_predictions(loaded.model, model, images)


def _fc(network, classes):
    network.fc = torch.nn.Linear(network.fc.in_features, classes)
    return network


@pytest.mark.parametrize(
    "payload, message",
    [
        (lambda: _fc(resnet34(weights=None), 2).state_dict(), "not a resnet18"),
        (lambda: _fc(resnet18(weights=None), 3).state_dict(), "3 classes"),
        (lambda: {"weights": [1, 2, 3], "name": "x"}, "unrecognised checkpoint dict"),
        (lambda: [torch.zeros(2)], "not a checkpoint dict"),
    ],
    ids=["resnet34", "three-classes", "unknown-dict", "list"],
)
def test_refuses_other_models(tmp_path, payload, message):
    path = tmp_path / "other.pth"
    torch.save(payload(), path)
    with pytest.raises(CheckpointError, match=message) as error:
        load_checkpoint(path)
    assert str(path) in str(error.value) and "\n" not in str(error.value)


def test_refuses_missing_and_truncated_files(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint file"):
        load_checkpoint(tmp_path / "absent.pth")
    path = tmp_path / "truncated.pth"
    torch.save(_notebook_network().state_dict(), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_checkpoint(path)


class _RunsCode:
    """Unpickling this calls ``_mark_executed``: what a malicious checkpoint would do."""

    def __reduce__(self):
        return (_mark_executed, ("unpickled",))


_EXECUTED: list[str] = []


def _mark_executed(value):
    _EXECUTED.append(value)
    return value


def test_refuses_to_unpickle_code(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"model_state_dict": _RunsCode()}, path)
    with pytest.raises(CheckpointError, match="refusing to unpickle code"):
        load_checkpoint(path)
    assert _EXECUTED == []
    # The same file does run code when loaded without weights_only: the test object is real.
    torch.load(path, weights_only=False)
    assert _EXECUTED == ["unpickled"]


def test_refuses_plain_pickle_of_code(tmp_path):
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(_RunsCode()))
    with pytest.raises(CheckpointError):
        load_checkpoint(path)
    assert "unpickled" not in _EXECUTED[1:]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("identity", IDENTITY_PREPROCESSING),
        ("ImageNet", Preprocessing()),
        ("0.7,0.5,0.7:0.2,0.25,0.2", Preprocessing(mean=(0.7, 0.5, 0.7), std=(0.2, 0.25, 0.2))),
    ],
)
def test_parse_preprocessing(text, expected):
    assert parse_preprocessing(text) == expected


@pytest.mark.parametrize("text", ["", "imagenett", "0.5,0.5:0.2,0.2,0.2", "0.5,0.5,0.5", "a,b,c:1,1,1",
                                  "0,0,0:1,0,1", "0,0,0:1,nan,1"])
def test_parse_preprocessing_rejects(text):
    with pytest.raises(ConfigError, match="--preprocessing"):
        parse_preprocessing(text)


def test_imagenet_weights_fail_fast_offline(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.raises(CheckpointError, match="is not cached and .* cannot be fetched"):
        imagenet_state_dict(url="http://127.0.0.1:9/resnet18-f37072fd.pth", timeout_s=2)
    assert not any(tmp_path.rglob("*.pth"))


def test_imagenet_weights_from_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    cached = tmp_path / "checkpoints" / "resnet18-f37072fd.pth"
    cached.parent.mkdir(parents=True)
    torch.manual_seed(0)
    torch.save(resnet18(weights=None).state_dict(), cached)
    state = initial_backbone_state("imagenet")
    # ImageNet's 1000-class head is dropped; the 2-class head starts random.
    assert "fc.weight" not in state and "layer4.1.conv2.weight" in state


def test_weights_file_keeps_a_two_class_head(tmp_path):
    path = tmp_path / "init.pth"
    network = _notebook_network()
    torch.save(network.state_dict(), path)
    state = initial_backbone_state(str(path))
    torch.testing.assert_close(state["fc.weight"], network.fc.weight)
    with pytest.raises(ConfigError, match="no such file"):
        initial_backbone_state(str(tmp_path / "missing.pth"))
