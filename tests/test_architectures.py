"""Checkpoints of architectures other than ResNet-18 (``--arch``): they load in every layout, build a report that
names them, and every mismatch is refused with exit code 2 and one line.

The network is a randomly initialised torchvision SqueezeNet 1.1 (0.7 M parameters, the cheapest torchvision
classifier on a CPU): the tests check loading and wiring, not what an untrained network attends to.
"""

from __future__ import annotations

import json
import sys

import pytest
import torch
from conftest import run_build

from reportgen.cli import main
from reportgen.config import load_config_file, resolve_config
from reportgen.errors import CheckpointError, ConfigError
from reportgen.explain import get_explainer
from reportgen.explain._cam import DEFAULT_TARGET_LAYER
from reportgen.metrics.sanity import randomisation_stages
from reportgen.model.architectures import build_backbone, head_keys
from reportgen.model.checkpoint import load_checkpoint, save_checkpoint
from reportgen.model.feature_layers import default_cam_layer
from reportgen.model.network import IDENTITY_PREPROCESSING, PCamClassifier, Preprocessing

ARCH = "squeezenet1_1"
#: Options that leave only the checkpoint's loading and the two model-agnostic methods in question.
QUICK = ["--methods", "integrated_gradients,lime", "--preprocessing", "identity"]


def _state_dict(num_classes: int = 2, arch: str = ARCH, seed: int = 0) -> dict:
    torch.manual_seed(seed)
    return build_backbone(arch, num_classes).state_dict()


def _error_line(capsys) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_the_head_is_found_by_one_rule_for_every_family():
    assert head_keys("resnet18") == {"fc.weight", "fc.bias"}
    assert head_keys(ARCH) == {"classifier.1.weight", "classifier.1.bias"}  # a 1x1 convolution
    assert head_keys("mobilenet_v3_small") == {"classifier.3.weight", "classifier.3.bias"}
    assert head_keys("densenet121") == {"classifier.weight", "classifier.bias"}


@pytest.mark.parametrize("name, wrap, prefix", [
    ("bare.pt", lambda sd: sd, ""),
    ("parallel.pth", lambda sd: {f"module.{k}": v for k, v in sd.items()}, "module."),
])
def test_a_squeezenet_checkpoint_builds_a_report_that_names_it(tmp_path, tiny_pcam, name, wrap, prefix):
    path = tmp_path / name
    torch.save(wrap(_state_dict()), path)
    extra = [] if not prefix else ["--sanity-images", "0", "--stain-images", "0", "--stability", "none"]
    code = run_build(tiny_pcam, path, tmp_path / "report", tmp_path / "cache", "--arch", ARCH, *QUICK, *extra)
    assert code == 0
    assert ARCH in (tmp_path / "report" / "report.html").read_text()  # the model card states it
    document = json.loads((tmp_path / "report" / "report.json").read_text())
    assert document["model"]["architecture"] == ARCH
    assert document["model"]["name"] == f"{ARCH} (PatchCamelyon)"
    assert document["model"]["checkpoint"]["key_prefix"] == prefix
    assert document["provenance"]["config"]["methods"] == ["integrated_gradients", "lime"]


def test_a_reportgen_checkpoint_records_its_architecture_and_refuses_another(tmp_path, tiny_pcam, capsys):
    torch.manual_seed(0)
    path = tmp_path / "own.pt"
    save_checkpoint(path, PCamClassifier(IDENTITY_PREPROCESSING, ARCH), recipe="full", weights="none", training={},
                    history=[], evaluation=None, data_fingerprint=None, epoch=1)
    loaded = load_checkpoint(path)
    assert loaded.info["architecture"] == ARCH and loaded.model.arch == ARCH
    assert loaded.model(torch.rand(2, 3, 96, 96)).shape == (2, 2)
    assert load_checkpoint(path, arch=ARCH).info["format"] == "reportgen-v1"
    code = run_build(tiny_pcam, path, tmp_path / "report", tmp_path / "cache", "--arch", "resnet18", *QUICK)
    assert code == 2
    assert "--arch resnet18 conflicts with" in _error_line(capsys)
    assert not (tmp_path / "report").exists()


def test_the_architecture_is_a_configuration_key():
    config = resolve_config(file_values={"arch": ARCH, "checkpoint": "model.pt"})
    assert config.arch == ARCH
    assert resolve_config().arch is None


def test_the_configuration_file_takes_arch(tmp_path):
    path = tmp_path / "build.toml"
    path.write_text(f'[build]\narch = "{ARCH}"\ncheckpoint = "model.pt"\n')
    assert resolve_config(file_values=load_config_file(path)).arch == ARCH


def _refused(tmp_path, tiny_pcam, capsys, state_dict, *options) -> str:
    path = tmp_path / "model.pt"
    torch.save(state_dict, path)
    code = run_build(tiny_pcam, path, tmp_path / "report", tmp_path / "cache", *options)
    assert code == 2
    line = _error_line(capsys)
    assert not (tmp_path / "report").exists()
    return line


def test_an_unknown_architecture_suggests_close_names(tmp_path, tiny_pcam, capsys):
    line = _refused(tmp_path, tiny_pcam, capsys, _state_dict(), "--arch", "squeezenet11", *QUICK)
    assert "'squeezenet11' is not a torchvision classification architecture" in line
    assert "squeezenet1_1" in line


def test_a_checkpoint_of_another_architecture_names_it_and_some_keys(tmp_path, tiny_pcam, capsys):
    line = _refused(tmp_path, tiny_pcam, capsys, _state_dict(), "--arch", "mobilenet_v3_small", *QUICK)
    assert "not a mobilenet_v3_small" in line and "'classifier.1.bias'" in line and "it lacks 'classifier.0" in line


def test_a_squeezenet_checkpoint_without_arch_is_not_a_resnet18(tmp_path, tiny_pcam, capsys):
    line = _refused(tmp_path, tiny_pcam, capsys, _state_dict(), *QUICK)
    assert "not a resnet18" in line and "pass --arch NAME" in line


def test_a_three_class_head_is_refused_naming_the_count(tmp_path, tiny_pcam, capsys):
    line = _refused(tmp_path, tiny_pcam, capsys, _state_dict(num_classes=3), "--arch", ARCH, *QUICK)
    assert "the head has 3 classes (classifier.1.weight (3, 512, 1, 1))" in line


def test_timm_names_without_timm_say_how_to_install_it(tmp_path, tiny_pcam, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "timm", None)  # import timm now raises ImportError, installed or not
    line = _refused(tmp_path, tiny_pcam, capsys, _state_dict(), "--arch", "timm:resnet18", *QUICK)
    assert "pip install 'reportgen[timm]'" in line


def test_the_default_cam_layer_is_the_last_convolutional_block_by_one_rule():
    cases = {"resnet18": "backbone.layer4.1", ARCH: "backbone.features.12",
             "mobilenet_v3_small": "backbone.features.12", "vgg11": "backbone.features"}
    for arch, layer in cases.items():
        model = PCamClassifier(IDENTITY_PREPROCESSING, arch).eval()
        assert default_cam_layer(model) == layer, arch
        assert get_explainer("grad_cam").create(model).settings["target_layer"] == layer
        assert not model.training and not model._forward_hooks and not model.backbone._forward_hooks
    assert default_cam_layer(PCamClassifier(IDENTITY_PREPROCESSING, "resnet18")) == DEFAULT_TARGET_LAYER


def test_cams_are_refused_for_a_transformer_in_one_line():
    from torchvision.models.swin_transformer import SwinTransformer

    swin = SwinTransformer(patch_size=[4, 4], embed_dim=8, depths=[2], num_heads=[1], window_size=[2, 2],
                           num_classes=2).eval()
    assert default_cam_layer(swin) is None
    for method in ("grad_cam", "grad_cam_pp"):
        with pytest.raises(ConfigError, match=f"^{method} needs a feature map; this model has attention layers "
                                              r"\(a transformer\) and no patch embedding reportgen reads its "
                                              "token grid from") as error:
            get_explainer(method).factory.check_model(swin, {})
        assert "\n" not in str(error.value)


def test_the_layer_tables_layers_are_the_last_block_of_each_of_the_last_three_stages():
    from reportgen.explain.grad_cam import GRAD_CAM_LAYERS
    from reportgen.model.feature_layers import stability_cam_layers

    cases = {"resnet18": GRAD_CAM_LAYERS,
             ARCH: ("backbone.features.4", "backbone.features.7", "backbone.features.12"),  # 23x23, 11x11, 5x5
             "mobilenet_v3_small": ("backbone.features.3", "backbone.features.8", "backbone.features.12"),
             "vgg11": ("backbone.features",)}  # its whole features is one block: the one stage it has
    for arch, layers in cases.items():
        model = PCamClassifier(IDENTITY_PREPROCESSING, arch).eval()
        assert stability_cam_layers(model) == layers, arch
        assert layers[-1] == default_cam_layer(model)
        assert not model.training and not model._forward_hooks and not model.backbone._forward_hooks
        grad_cam = get_explainer("grad_cam").factory
        (variant,) = grad_cam.stability_variants
        assert grad_cam.variant_values(variant, model) == layers and grad_cam.variant_skip_reason(variant, model) is None
    assert GRAD_CAM_LAYERS == ("backbone.layer2.1", "backbone.layer3.1", "backbone.layer4.1")


def test_the_layer_tables_layers_of_a_vit_are_its_first_norm_in_three_blocks_ending_with_the_last():
    from reportgen.model.feature_layers import stability_cam_layers

    timm_vit = PCamClassifier(Preprocessing(resize_to=160), "timm:test_vit").eval()  # six blocks: the last of each third
    assert stability_cam_layers(timm_vit) == ("backbone.blocks.1.norm1", "backbone.blocks.3.norm1",
                                              "backbone.blocks.5.norm1")
    assert stability_cam_layers(_tiny_torchvision_vit()) == tuple(f"encoder.layers.encoder_layer_{i}.ln_1"
                                                                  for i in range(3))


def test_the_layer_table_is_skipped_with_its_reason_where_the_rule_finds_no_layer():
    from torchvision.models.swin_transformer import SwinTransformer

    swin = SwinTransformer(patch_size=[4, 4], embed_dim=8, depths=[2], num_heads=[1], window_size=[2, 2],
                           num_classes=2).eval()
    grad_cam = get_explainer("grad_cam").factory
    (variant,) = grad_cam.stability_variants
    assert grad_cam.variant_values(variant, swin) == ()
    assert grad_cam.variant_skip_reason(variant, swin).startswith("the table's rule finds no convolutional stage")


def test_the_sanity_cascade_takes_the_blocks_of_a_features_and_head_network():
    def stages(arch):
        return ["+".join(stage) for stage in randomisation_stages(PCamClassifier(IDENTITY_PREPROCESSING, arch))]

    assert stages("resnet18") == ["backbone.fc", "backbone.layer4", "backbone.layer3", "backbone.layer2",
                                  "backbone.layer1", "backbone.conv1+backbone.bn1"]
    assert stages(ARCH) == ["backbone.classifier", *(f"backbone.features.{i}" for i in (12, 11, 10, 9, 7, 6, 4, 3, 0))]
    assert stages("mobilenet_v3_small") == ["backbone.classifier.3", "backbone.classifier.0",
                                            *(f"backbone.features.{i}" for i in range(12, -1, -1))]


def test_a_squeezenet_builds_on_a_patch_folder_with_grad_cam_at_its_own_layer_and_its_own_stages(tmp_path):
    from test_patch_folders import write_folder

    path = tmp_path / "model.pt"
    torch.save(_state_dict(), path)
    folder = write_folder(tmp_path / "patches", per_class=4, splits=("valid",), slides=True, masks=True)
    code = run_build(folder, path, tmp_path / "report", tmp_path / "cache", "--arch", ARCH,
                     "--preprocessing", "identity")
    assert code == 0
    document = json.loads((tmp_path / "report" / "report.json").read_text())
    assert document["data"]["source"] == "folder" and document["model"]["architecture"] == ARCH
    assert "grad_cam" in document["provenance"]["config"]["methods"]
    assert document["methods"]["grad_cam"]["settings"]["target_layer"] == "backbone.features.12"
    assert document["methods"]["grad_cam"]["settings"]["feature_map_size"] == "5x5"
    stages = ["backbone.classifier", *(f"backbone.features.{i}" for i in (12, 11, 10, 9, 7, 6, 4, 3, 0))]
    assert document["sanity"]["stages"] == document["sanity"]["methods"]["grad_cam"]["stages"] == stages
    # The layer table takes SqueezeNet's own stages: the last Fire block at 23x23, 11x11 and 5x5.
    table = document["stability"]["grad_cam_layers"]
    assert "grad_cam_layers" not in document["stability"]["skipped"]
    assert [(row["layer"], row["feature_map_size"], row["default"], row["used"]) for row in table["rows"]] == [
        ("backbone.features.4", "23x23", False, False), ("backbone.features.7", "11x11", False, False),
        ("backbone.features.12", "5x5", True, True)]
    assert table["default_layer"] == table["used_layer"] == "backbone.features.12"
    assert "backbone.features.7" in (tmp_path / "report" / "report.html").read_text(encoding="utf-8")


def test_an_unknown_grad_cam_layer_names_close_layers_before_any_work(tmp_path, tiny_pcam, capsys):
    line = _refused(tmp_path, tiny_pcam, capsys, _state_dict(), "--arch", ARCH, "--preprocessing", "identity",
                    "--methods", "grad_cam,lime", "--grad-cam-layer", "backbone.features.21")
    assert line.endswith("grad_cam: target_layer 'backbone.features.21' is not a layer of the model; close layer "
                         "names: backbone.features.2, backbone.features.1, backbone.features.12, "
                         "backbone.features.11 (the default is backbone.features.12)")


def test_training_another_architecture_takes_the_full_recipe_from_random_weights():
    from reportgen.model.settings import TrainSettings

    settings = TrainSettings(arch="timm:test_vit", input_size=160)
    assert settings.resolved_preprocessing().resize_to == 160
    # A resnet18's settings hash as they did before the architecture was a setting (its cached model is found).
    assert TrainSettings().key() == TrainSettings(arch="resnet18", input_size=None).key() != settings.key()
    with pytest.raises(ConfigError, match="^recipe 'head' trains the resnet18 head on cached features; train "
                                          "timm:test_vit with --recipe full$"):
        TrainSettings(arch="timm:test_vit", recipe="head")
    with pytest.raises(ConfigError, match="^--weights imagenet initialises a resnet18; squeezenet1_1 trains from "
                                          r"random weights \(--weights none\)$"):
        TrainSettings(arch="squeezenet1_1", weights="imagenet")


def test_the_demo_recipe_trains_a_transformer_slower_and_longer_and_a_cnn_as_the_resnet():
    from reportgen.model.settings import DEMO_TRAIN_SETTINGS, demo_train_settings

    for cnn in (None, "resnet18", ARCH, "mobilenet_v3_small"):
        settings = demo_train_settings("full", arch=cnn)
        assert (settings.lr, settings.epochs) == (DEMO_TRAIN_SETTINGS.lr, DEMO_TRAIN_SETTINGS.epochs) == (1e-3, 1)
    for transformer in ("timm:test_vit", "vit_b_16"):
        settings = demo_train_settings("full", arch=transformer)
        assert (settings.lr, settings.epochs) == (1e-4, 3)
    assert demo_train_settings("full", arch="timm:test_vit", epochs=5).epochs == 5  # what is stated wins
    with pytest.raises(ConfigError, match="is not a torchvision classification architecture; did you mean resnet18"):
        demo_train_settings("full", arch="resnet181")


def test_safetensors_files_without_safetensors_say_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "safetensors", None)
    path = tmp_path / "model.safetensors"
    path.write_bytes(b"\0" * 16)
    with pytest.raises(ConfigError, match=r"pip install 'reportgen\[safetensors\]'"):
        load_checkpoint(path, arch=ARCH)


def test_safetensors_files_load_as_state_dicts(tmp_path):
    from safetensors.torch import save_file  # the test extra installs it

    path = tmp_path / "model.safetensors"
    save_file(_state_dict(), path)
    assert load_checkpoint(path, arch=ARCH).info["architecture"] == ARCH
    with pytest.raises(CheckpointError, match="not a resnet18"):
        load_checkpoint(path)
    path.write_bytes(b"\0" * 16)
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_checkpoint(path, arch=ARCH)


def test_a_vit_built_for_224_pixels_is_refused_in_one_line():
    from torchvision.models import VisionTransformer

    from reportgen.model.architectures import check_input_size

    vit = VisionTransformer(image_size=224, patch_size=16, num_layers=1, num_heads=1, hidden_dim=8, mlp_dim=8,
                            num_classes=2).eval()
    with pytest.raises(ConfigError, match=r"^--arch vit: the network does not take 96x96 patches \(Wrong image "
                                          r"height! Expected 224 but got 96!\); pass the side it takes with "
                                          "--input-size") as error:
        check_input_size(vit, arch="vit", size=96)
    assert "\n" not in str(error.value)
    check_input_size(build_backbone(ARCH).eval(), arch=ARCH, size=96)  # a CNN takes any size


@pytest.mark.parametrize("wrap, fmt, prefix", [
    (lambda sd: {"state_dict": {f"model.{k}": v for k, v in sd.items()}, "pytorch-lightning_version": "2.4.0",
                 "epoch": 2}, "lightning", "model."),
    (lambda sd: {"state_dict": sd}, "state_dict", ""),
    (lambda sd: {"epoch": 0, "model_state_dict": sd, "val_acc": 0.5}, "notebook", None),
    (lambda sd: {f"backbone.{k}": v for k, v in sd.items()} | {"normalize.mean": torch.zeros(1, 3, 1, 1),
                                                               "normalize.std": torch.ones(1, 3, 1, 1)},
     "state_dict", ""),
])
def test_every_layout_applies_to_another_architecture(tmp_path, wrap, fmt, prefix):
    state_dict = _state_dict()
    path = tmp_path / "model.ckpt"
    torch.save(wrap(state_dict), path)
    loaded = load_checkpoint(path, arch=ARCH)
    assert (loaded.info["architecture"], loaded.info["format"], loaded.info.get("key_prefix")) == (ARCH, fmt, prefix)
    assert torch.equal(loaded.model.backbone.state_dict()["classifier.1.weight"], state_dict["classifier.1.weight"])


def test_the_coarse_map_hint_names_resnet18s_finer_layer_only_for_resnet18():
    from reportgen.explain.base import MethodStanding
    from reportgen.schema import MethodSection

    grad_cam = get_explainer("grad_cam").factory
    standing = MethodStanding(title="Grad-CAM", not_better_than_random=("deletion",))

    def hint(layer):
        record = MethodSection.from_json({"settings": {"target_layer": layer, "feature_map_size": "3x3"},
                                          "warnings": []})
        (severity, text), = grad_cam.report_warnings(record, standing)
        return text

    assert hint(DEFAULT_TARGET_LAYER).endswith("compare a finer layer with --grad-cam-layer backbone.layer3.1.")
    assert hint("backbone.features.12").endswith("compare a finer layer with --grad-cam-layer NAME (an earlier "
                                                 "block).")


def test_an_unknown_grad_cam_layer_is_refused_before_training(tmp_path, tiny_pcam, capsys):
    from conftest import FAST_BUILD_ARGS

    code = main(["build", "--data-dir", str(tiny_pcam), "--out", str(tmp_path / "report"), "--cache-dir",
                 str(tmp_path / "cache"), *FAST_BUILD_ARGS, "--grad-cam-layer", "backbone.layer9"])
    assert code == 2
    assert _error_line(capsys).endswith("grad_cam: target_layer 'backbone.layer9' is not a layer of the model; close "
                                        "layer names: backbone.layer4, backbone.layer3, backbone.layer2, "
                                        "backbone.layer1 (the default is backbone.layer4.1)")
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("*.pt"))  # nothing trained


def _tiny_torchvision_vit():
    from torchvision.models import VisionTransformer

    return VisionTransformer(image_size=64, patch_size=16, num_layers=3, num_heads=1, hidden_dim=8, mlp_dim=8,
                             num_classes=2).eval()


def test_a_vits_cam_reads_the_last_blocks_first_norm_on_the_patch_embeddings_grid():
    import timm

    from reportgen.model.feature_layers import token_grid

    vit = _tiny_torchvision_vit()
    assert default_cam_layer(vit) == "encoder.layers.encoder_layer_2.ln_1"
    assert (token_grid(vit, size=64).prefix, token_grid(vit, size=64).height, token_grid(vit, size=64).width) == \
        (1, 4, 4)
    timm_vit = PCamClassifier(Preprocessing(resize_to=160), "timm:test_vit").eval()
    assert default_cam_layer(timm_vit) == "backbone.blocks.5.norm1"
    grid = token_grid(timm_vit)  # a 96 px patch resized to 160 px by the model: 10 x 10 tokens of 16 px
    assert (grid.prefix, grid.height, grid.width) == (timm_vit.backbone.num_prefix_tokens, 10, 10)
    # This ViT adapts its grid to its input: without the resize a 96 px patch gives 6 x 6 tokens.
    assert (token_grid(PCamClassifier(Preprocessing(), "timm:test_vit").eval()).height) == 6
    # The class token is dropped and token k of the grid lands at row k // 10, column k % 10.
    tokens = torch.arange(101.0)[None, :, None].repeat(1, 1, 2)
    cells = grid.to_map(tokens)
    assert cells.shape == (1, 2, 10, 10) and cells[0, 0, 3, 7] == 1 + 37
    with pytest.raises(ValueError, match=r"expected \(N, 101, C\) tokens"):
        grid.to_map(tokens[:, 1:])
    assert timm.__version__  # timm is a test dependency


def test_the_sanity_cascade_takes_one_transformer_block_per_stage():
    names = ["+".join(stage) for stage in randomisation_stages(PCamClassifier(Preprocessing(resize_to=160),
                                                                              "timm:test_vit"))]
    assert names == ["backbone.head", "backbone.blocks.5+backbone.norm",
                     *(f"backbone.blocks.{i}" for i in range(4, -1, -1)), "backbone.patch_embed"]
    names = ["+".join(stage) for stage in randomisation_stages(_tiny_torchvision_vit())]
    assert names == ["heads", "encoder.layers.encoder_layer_2+encoder.ln", "encoder.layers.encoder_layer_1",
                     "encoder.layers.encoder_layer_0", "conv_proj"]


def _register_vit16_224() -> str:
    """A small timm Vision Transformer with 16 px patches at 224 px (14 x 14 tokens, six blocks of 64 channels),
    registered with timm under a name of this module: ``timm:<name>`` builds it as a team's ViT/16 would be built."""
    import timm
    from timm.models import register_model
    from timm.models.vision_transformer import VisionTransformer

    name = "reportgen_tests_vit16_224"
    if name not in timm.list_models(name):
        def build(pretrained=False, **kwargs):
            return VisionTransformer(img_size=224, patch_size=16, embed_dim=64, depth=6, num_heads=2, mlp_ratio=3,
                                     num_classes=kwargs.get("num_classes", 1000))

        build.__name__ = name
        register_model(build)
    return name


def test_a_timm_vit16_at_224_trains_on_a_patch_folder_and_builds_a_report_in_the_patchs_pixels(tmp_path):
    import h5py
    from conftest import FAST_BUILD_ARGS
    from test_patch_folders import write_folder

    arch = f"timm:{_register_vit16_224()}"
    folder = write_folder(tmp_path / "patches", per_class=6, splits=("train", "valid"), slides=True)
    # No checkpoint: the demo recipe trains the ViT (random weights); the model resizes each 96 px patch to 224 px.
    code = main(["build", "--data-dir", str(folder), "--out", str(tmp_path / "report"), "--cache-dir",
                 str(tmp_path / "cache"), *FAST_BUILD_ARGS, "--arch", arch, "--input-size", "224",
                 "--stability", "grad_cam_layers"])
    assert code == 0
    document = json.loads((tmp_path / "report" / "report.json").read_text())
    assert document["data"]["source"] == "folder"
    assert document["model"]["architecture"] == arch and document["model"]["recipe"] == "full"
    assert document["model"]["training"]["arch"] == arch
    assert document["model"]["preprocessing"]["resize_to"] == 224
    settings = document["methods"]["grad_cam"]["settings"]
    assert settings["target_layer"] == "backbone.blocks.5.norm1" and settings["feature_map_size"] == "14x14"
    stages = ["backbone.head", "backbone.blocks.5+backbone.norm", *(f"backbone.blocks.{i}" for i in range(4, -1, -1)),
              "backbone.patch_embed"]
    assert document["sanity"]["methods"]["grad_cam"]["stages"] == stages
    # The layer table: the first norm of blocks 1, 3 and 5, each read on the 14 x 14 token grid.
    rows = document["stability"]["grad_cam_layers"]["rows"]
    assert [(row["layer"], row["feature_map_size"], row["default"], row["used"]) for row in rows] == [
        ("backbone.blocks.1.norm1", "14x14", False, False), ("backbone.blocks.3.norm1", "14x14", False, False),
        ("backbone.blocks.5.norm1", "14x14", True, True)]
    html = (tmp_path / "report" / "report.html").read_text(encoding="utf-8")
    assert "The network resizes each 96x96 patch to 224x224 (bilinear) inside its own module" in html
    with h5py.File(tmp_path / "report" / "attributions.h5") as maps:
        shapes = {name: maps[f"maps/{name}"].shape for name in document["methods"]}
    assert set(shapes.values()) == {(len(document["images"]), 96, 96)}


def test_a_vit_without_its_input_size_is_refused_naming_the_option(tmp_path, tiny_pcam, capsys):
    import timm

    # A ViT built for 224 px that takes only that size (test_vit, which adapts its grid, takes 96 px too).
    line = _refused(tmp_path, tiny_pcam, capsys, timm.create_model("vit_tiny_patch16_224", num_classes=2).state_dict(),
                    "--arch", "timm:vit_tiny_patch16_224", *QUICK)
    assert "the network does not take 96x96 patches" in line and line.endswith("with --input-size (the model "
                                                                                 "then resizes each patch)")


def test_a_vit_built_for_224_takes_a_folder_of_224_pixel_patches_as_they_are(tmp_path):
    from test_patch_folders import write_folder

    arch = f"timm:{_register_vit16_224()}"
    path = tmp_path / "vit.pt"
    torch.save(build_backbone(arch).state_dict(), path)  # a plain state dict: it records no input side
    folder = write_folder(tmp_path / "patches", per_class=2, splits=("valid",), size=224)
    code = main(["build", "--data-dir", str(folder), "--checkpoint", str(path), "--arch", arch, "--out",
                 str(tmp_path / "report"), "--cache-dir", str(tmp_path / "cache"), "--images", "2", "--methods",
                 "grad_cam", "--steps", "4", "--sanity-images", "0", "--stain-images", "0", "--stability", "none",
                 "--no-pdf", "-q"])
    assert code == 0
    document = json.loads((tmp_path / "report" / "report.json").read_text())
    assert document["data"]["patch_size"] == 224
    assert document["model"]["preprocessing"]["input_size"] == 224
    assert document["model"]["preprocessing"]["resize_to"] is None  # taken as they are: no --input-size needed
    assert document["methods"]["grad_cam"]["settings"]["feature_map_size"] == "14x14"


def test_input_size_must_be_a_sensible_side(tmp_path, capsys):
    assert main(["build", "--input-size", "2", "--out", str(tmp_path / "report"), "-q"]) == 2
    assert "option 'input_size' must be a side in pixels from 8 to 4096, got 2" in _error_line(capsys)


def test_the_train_command_trains_another_architecture_and_records_it(tiny_pcam, tmp_path, capsys, isolated_cache):
    from reportgen.model.checkpoint import safe_torch_load

    out = tmp_path / "squeezenet.pt"
    assert main(["train", "--data-dir", str(tiny_pcam), "--arch", ARCH, "--out", str(out), "-q"]) == 0
    stored = safe_torch_load(out)
    assert stored["architecture"] == ARCH and stored["training"]["arch"] == ARCH
    assert load_checkpoint(out).info["architecture"] == ARCH  # it loads without --arch
    assert main(["train", "--data-dir", str(tiny_pcam), "--arch", ARCH, "--recipe", "head",
                 "--out", str(tmp_path / "head.pt"), "-q"]) == 2
    assert _error_line(capsys).endswith(f"recipe 'head' trains the resnet18 head on cached features; train {ARCH} "
                                        "with --recipe full")


@pytest.mark.parametrize("layer, marks", [
    ("backbone.features.7", [(False, False), (False, True), (True, False)]),
    ("backbone.features.10", [(False, False), (False, False), (True, False)]),  # not a row: the table keeps its own
])
def test_a_configured_layer_of_another_cnn_is_marked_as_used_and_the_table_keeps_its_three(tmp_path, layer, marks):
    import numpy as np

    from reportgen.cache import ArrayCache
    from reportgen.pipeline.explain import explain_patches
    from reportgen.pipeline.stability import stability_checks
    from reportgen.pipeline.stability_section import stability_section
    from reportgen.runtime import Stopwatch

    torch.manual_seed(0)
    model = PCamClassifier(IDENTITY_PREPROCESSING, ARCH).eval()
    images = torch.rand(2, 3, 96, 96, generator=torch.Generator().manual_seed(1))
    targets = torch.tensor([0, 1])
    config = resolve_config(flag_values={"images": 2, "steps": 4, "batch_size": 32, "methods": "grad_cam",
                                         "stability": "grad_cam_layers"},
                            settings=[f"grad_cam.target_layer={layer}"])
    cache = ArrayCache(tmp_path / "cache")
    indices = np.arange(2)
    methods = explain_patches(model, images, targets, indices, config=config, cache=cache, cache_context={},
                              progress=False)
    outcome = stability_checks(model, images, targets, indices, methods, config=config, dataset_mean=(0.7, 0.55, 0.7),
                               cache=cache, cache_context={}, watch=Stopwatch(), progress=False)
    table = outcome.measured["grad_cam_layers"]
    assert (table.default, table.used) == ("backbone.features.12", layer)
    assert table.facts == {"backbone.features.4": {"feature_map_size": "23x23"},
                           "backbone.features.7": {"feature_map_size": "11x11"},
                           "backbone.features.12": {"feature_map_size": "5x5"}}
    masks = {mode: np.ones(2, bool) for mode in ("deletion", "insertion")}
    random = table.curves["backbone.features.4"]
    rows = stability_section(outcome, random_curves=random, masks=masks, alpha=0.05, seed=0)["grad_cam_layers"]["rows"]
    assert [(row["default"], row["used"]) for row in rows] == marks


def test_the_tables_sentences_shorten_layer_names_only_where_they_stay_distinct():
    from reportgen.explain.grad_cam import GRAD_CAM_LAYERS
    from reportgen.report.stability import _short_values

    assert _short_values(list(GRAD_CAM_LAYERS)) == dict(zip(GRAD_CAM_LAYERS, ("layer2", "layer3", "layer4")))
    squeezenet = ["backbone.features.4", "backbone.features.7", "backbone.features.12"]
    assert _short_values(squeezenet) == {layer: layer for layer in squeezenet}
