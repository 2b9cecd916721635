"""An image folder of patches (``DIR/{train,valid,test}/{tumour,normal}/*``, optional ``patches.csv``) opens as a
data set of source "folder": labels, slide ids, masks, reads, fingerprint, one-line errors and a real build."""

from __future__ import annotations

import json
import shutil
import warnings
import zlib

import h5py
import numpy as np
import pytest
from conftest import FAST_BUILD_ARGS, run_build
from PIL import Image

from reportgen.cli import main
from reportgen.config import config_to_toml, load_config_file, resolve_config
from reportgen.data import open_pcam
from reportgen.errors import ConfigError, DataError

SPLITS = ("train", "valid", "test")
#: Formats cycled over the patches of a class folder: lossless and lossy, as teams export them.
SUFFIXES = ("png", "jpg", "tif", "jpeg", "tiff", "png")


def _pixels(seed: int, size: int = 96) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)


def write_folder(root, *, per_class: int = 6, splits=SPLITS, size: int = 96, folders=("tumour", "normal"),
                 slides: bool = False, masks: bool = False):
    """``per_class`` patches per class folder and split, PNG, JPEG and TIFF mixed; with ``slides``, a patches.csv
    giving every patch a slide id (three slides per split), with ``masks`` also a mask for each tumour patch."""
    rows = []
    for split in splits:
        for folder in folders:
            directory = root / split / folder
            directory.mkdir(parents=True)
            for i in range(per_class):
                name = f"{split}/{folder}/p{i:02d}.{SUFFIXES[i % len(SUFFIXES)]}"
                Image.fromarray(_pixels(zlib.crc32(name.encode()), size)).save(root / name)
                mask = ""
                if masks and folder == folders[0]:
                    mask = f"masks/{split}-{i:02d}.png"
                    (root / "masks").mkdir(exist_ok=True)
                    pattern = np.zeros((size, size), dtype=np.uint8)
                    pattern[32:64, 32 + i : 64] = 200  # non-zero = tumour
                    Image.fromarray(pattern).save(root / mask)
                rows.append(f"{name},{split}-slide-{i % 3},{mask}")
    if slides:
        (root / "patches.csv").write_text("file,slide_id,mask\n" + "\n".join(rows) + "\n")
    return root


@pytest.fixture
def folder(tmp_path):
    return write_folder(tmp_path / "patches")


def _open(root, splits=SPLITS, **kwargs):
    return open_pcam(root, splits=splits, **kwargs)


# --------------------------------------------------------------------------- what a folder holds


def test_labels_order_and_no_slides_without_patches_csv(folder):
    with _open(folder) as data:
        assert data.source == "folder"
        assert {name: len(split) for name, split in data.splits.items()} == {"train": 12, "valid": 12, "test": 12}
        valid = data.split("valid")
        assert valid.files == sorted(valid.files) and valid.files[0] == "valid/normal/p00.png"
        assert valid.labels.tolist() == [0] * 6 + [1] * 6  # normal/ sorts before tumour/; 1 = tumour as in PCam
        assert valid.slide_ids is None and not valid.has_masks


def test_reading_by_indices_gives_each_file_rgb_uint8_in_the_order_asked(folder):
    valid = _open(folder, ("valid",)).split("valid")
    batch = valid.read(np.array([6, 0, 6, 11]))
    assert batch.images.shape == (4, 96, 96, 3) and batch.images.dtype == np.uint8
    assert batch.indices.tolist() == [6, 0, 6, 11] and batch.labels.tolist() == [1, 0, 1, 1]
    assert batch.masks is None
    # PNG is lossless: the pixels written come back exactly; JPEG and TIFF as Pillow decodes them.
    assert np.array_equal(batch.images[0], _pixels(zlib.crc32(b"valid/tumour/p00.png")))
    for row, index in enumerate([6, 0, 6, 11]):
        expected = np.asarray(Image.open(folder / valid.files[index]).convert("RGB"))
        assert np.array_equal(batch.images[row], expected)
    assert np.array_equal(valid.read(slice(0, 12)).images, valid.read(np.arange(12)).images)


def test_iteration_covers_every_patch_once(folder):
    valid = _open(folder, ("valid",)).split("valid")
    batches = list(valid.iter_batches(5))
    assert [len(batch) for batch in batches] == [5, 5, 2]
    assert np.concatenate([batch.indices for batch in batches]).tolist() == list(range(12))
    shuffled = np.concatenate([batch.indices for batch in valid.iter_batches(5, shuffle=True, seed=1)])
    assert sorted(shuffled.tolist()) == list(range(12))
    chosen = np.concatenate([batch.indices for batch in valid.iter_batches(2, indices=np.array([9, 1, 4]))])
    assert chosen.tolist() == [1, 4, 9]
    assert [len(block) for block in valid.block_order()] == [12]


def test_patches_csv_gives_slide_ids_and_masks(tmp_path):
    root = write_folder(tmp_path / "patches", slides=True, masks=True)
    with _open(root) as data:
        valid = data.split("valid")
        assert valid.slide_ids.tolist() == [f"valid-slide-{i % 3}" for i in range(6)] * 2
        assert valid.has_masks
        batch = valid.read(np.arange(12))
        assert batch.masks.shape == (12, 96, 96) and batch.masks.dtype == np.uint8
        assert not batch.masks[:6].any()  # normal patches without a mask: no tumour
        for i in range(6):  # the tumour patch p0i has columns 32 + i .. 63 of rows 32..63 set, read as 1
            expected = np.zeros((96, 96), dtype=np.uint8)
            expected[32:64, 32 + i : 64] = 1
            assert np.array_equal(batch.masks[6 + i], expected)


def test_a_split_patches_csv_does_not_list_has_no_slide_ids(tmp_path):
    root = write_folder(tmp_path / "patches", slides=True)
    lines = (root / "patches.csv").read_text().splitlines()
    (root / "patches.csv").write_text("\n".join(line for line in lines if not line.startswith("test/")) + "\n")
    with _open(root) as data:
        assert data.split("test").slide_ids is None and data.split("valid").slide_ids is not None
        assert not data.split("valid").has_masks  # the mask column is empty


def test_class_folders_from_the_configuration_name_the_folders(tmp_path):
    root = write_folder(tmp_path / "patches", folders=("tumor", "benign"))
    toml = tmp_path / "audit.toml"
    toml.write_text('[build]\nimages = 4\nclass_folders = {tumour = "tumor", normal = "benign"}\n')
    config = resolve_config(file_values=load_config_file(toml), flag_values={"data_dir": str(root)})
    assert config.class_folders == {"tumour": "tumor", "normal": "benign"}
    valid = _open(root, ("valid",), class_folders=config.class_folders).split("valid")
    assert valid.labels.tolist() == [0] * 6 + [1] * 6  # benign/ sorts first, tumor/ is label 1
    toml.write_text('[class_folders]\ntumour = "tumor"\nnormal = "benign"\n')
    assert resolve_config(file_values=load_config_file(toml)).class_folders == {"tumour": "tumor", "normal": "benign"}
    toml.write_text(config_to_toml(config))  # the config.toml written beside the report reads back the same
    assert resolve_config(file_values=load_config_file(toml)) == config
    with pytest.raises(DataError, match="valid/benign: not a class folder.*class_folders in the configuration"):
        _open(root, ("valid",))


def test_fingerprint_is_stable_and_changes_with_names_pixels_labels_and_slides(tmp_path):
    root = write_folder(tmp_path / "a", slides=True)
    first = _open(root).fingerprint
    assert _open(root).fingerprint == first
    shutil.copytree(root, tmp_path / "b")
    assert _open(tmp_path / "b").fingerprint == first  # identical files anywhere give the same fingerprint
    changes = {
        "pixels": lambda r: Image.fromarray(_pixels(99)).save(r / "valid/normal/p00.png"),
        "name": lambda r: (r / "test/normal/p05.png").rename(r / "test/normal/p05b.png"),
        "slide": lambda r: (r / "patches.csv").write_text(
            (r / "patches.csv").read_text().replace("valid-slide-2", "valid-slide-x")),
    }
    for change, apply in changes.items():
        copy = tmp_path / f"changed-{change}"
        shutil.copytree(root, copy)
        if change == "name":
            (copy / "patches.csv").write_text((copy / "patches.csv").read_text().replace("test/normal/p05.png", "test/normal/p05b.png"))
        apply(copy)
        assert _open(copy).fingerprint != first, change
    # The same files with the classes swapped: only the labels differ.
    assert _open(root, class_folders={"tumour": "normal", "normal": "tumour"}).fingerprint != first


# --------------------------------------------------------------------------- bad input, one line each


def _truncate(path):
    path.write_bytes(path.read_bytes()[:200])


def _bad_folders(tmp_path):
    """(case, make the folder bad, the fragment the error line names)."""
    def csv_with(text):
        return lambda r: (r / "patches.csv").write_text(text)

    def shrink_mask(r):
        Image.fromarray(np.zeros((64, 64), dtype=np.uint8)).save(r / "masks/valid-00.png")

    return [
        ("split folder missing", lambda r: shutil.rmtree(r / "valid"), "valid: split folder is missing"),
        ("class folder missing", lambda r: shutil.rmtree(r / "valid/normal"), "valid/normal: class folder is missing"),
        ("class folder empty", lambda r: [p.unlink() for p in (r / "valid/tumour").iterdir()],
         "valid/tumour: class folder is empty"),
        ("corrupt image", lambda r: _truncate(r / "valid/tumour/p00.png"), "valid/tumour/p00.png: not a readable image"),
        ("corrupt jpeg", lambda r: (r / "valid/normal/p01.jpg").write_bytes(b"not a jpeg"),
         "valid/normal/p01.jpg: not a readable image"),
        ("non-image file", lambda r: (r / "valid/normal/notes.txt").write_text("x"),
         "valid/normal/notes.txt: not an image file"),
        ("folder in a class folder", lambda r: (r / "valid/normal/more").mkdir(), "valid/normal/more: a folder inside"),
        ("stray folder", lambda r: (r / "valid/other").mkdir(), "valid/other: not a class folder"),
        ("csv names a missing file", csv_with("file,slide_id\nvalid/normal/p09.png,s1\n"),
         "line 2: file valid/normal/p09.png does not exist"),
        ("csv without slide_id", csv_with("file,slide\nvalid/normal/p00.png,s1\n"), "patches.csv: no 'slide_id' column"),
        ("csv without file", csv_with("path,slide_id\nvalid/normal/p00.png,s1\n"), "patches.csv: no 'file' column"),
        ("csv lists part of a split", csv_with("file,slide_id\nvalid/normal/p00.png,s1\n"),
         "lists 1 of the 12 patches of valid/ but not valid/normal/p01.jpg"),
        ("csv names a missing mask", lambda r: (r / "masks/valid-03.png").unlink(),
         "mask masks/valid-03.png does not exist"),
        ("mask of another size", shrink_mask, "masks/valid-00.png: mask is 64x64"),
        ("patch of another size", lambda r: Image.fromarray(_pixels(5, 80)).save(r / "valid/tumour/p03.jpeg"),
         "valid/tumour/p03.jpeg: image is 80x80 but"),
        ("not square", lambda r: Image.fromarray(_pixels(5)[:90]).save(r / "valid/tumour/p02.tif"),
         "valid/tumour/p02.tif: image is 96x90; patches must be square"),
    ]


@pytest.mark.parametrize("case", range(len(_bad_folders(None))), ids=[case for case, _, _ in _bad_folders(None)])
def test_each_bad_input_is_one_data_error_line_naming_it(tmp_path, case):
    _, make_bad, fragment = _bad_folders(tmp_path)[case]
    root = write_folder(tmp_path / "patches", slides=True, masks=True)
    make_bad(root)
    with pytest.raises(DataError) as raised:
        _open(root)
    message = str(raised.value)
    assert "\n" not in message and fragment in message, message


@pytest.mark.parametrize("size", [24, 100, 1032])
def test_patches_of_a_side_the_pipeline_does_not_take_are_refused(tmp_path, size):
    root = write_folder(tmp_path / "patches", per_class=1, splits=("valid",), size=size)
    with pytest.raises(DataError, match=rf"patches are {size}x{size}; reportgen reads square patches of 32 to 1024 "
                                        "pixels, a multiple of 8"):
        _open(root, ("valid",))


def test_patches_of_another_size_are_read_at_their_own_size(tmp_path):
    root = write_folder(tmp_path / "patches", per_class=2, splits=("valid",), size=128, slides=True, masks=True)
    with _open(root, ("valid",)) as data:
        assert data.patch_size == 128
        batch = data.split("valid").read(np.arange(4))
        assert batch.images.shape == (4, 128, 128, 3) and batch.masks.shape == (4, 128, 128)
        assert batch.masks[2:].any() and not batch.masks[:2].any()  # the tumour patches' masks; none for normal


def test_the_cli_refuses_a_bad_folder_with_one_line_exit_code_2_and_keeps_the_previous_report(
        tmp_path, checkpoint_a, capsys):
    out = tmp_path / "report"
    out.mkdir()
    (out / "report.json").write_text('{"schema_version": 1, "previous": true}')
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    failures = []
    for case, make_bad, fragment in _bad_folders(tmp_path):
        root = write_folder(tmp_path / case.replace(" ", "-"), slides=True, masks=True)
        make_bad(root)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            code = main(["build", "--data-dir", str(root), "--checkpoint", str(checkpoint_a), "--out", str(out),
                         "--cache-dir", str(tmp_path / "cache"), *FAST_BUILD_ARGS])
        err = capsys.readouterr().err
        lines = err.splitlines()
        if code != 2 or len(lines) != 1 or not lines[0].startswith("reportgen: error:") or fragment not in lines[0]:
            failures.append(f"{case}: exit code {code}, stderr {err!r}")
        if caught:
            failures.append(f"{case}: warning {caught[0].message}")
        if {p.name: p.read_bytes() for p in out.iterdir()} != before:
            failures.append(f"{case}: previous report changed")
    assert not failures, "\n".join(failures)


# --------------------------------------------------------------------------- a real build


def test_a_build_on_an_image_folder_reports_source_folder_and_its_slides(tmp_path, checkpoint_a):
    root = write_folder(tmp_path / "patches", per_class=4, splits=("valid",), slides=True, masks=True)
    out = tmp_path / "report"
    assert run_build(root, checkpoint_a, out, tmp_path / "cache", "--sanity-images", "0", "--stain-images", "0",
                     "--stability", "none") == 0
    document = json.loads((out / "report.json").read_text())
    data = document["data"]
    assert data["source"] == "folder" and data["data_dir"] == str(root)
    assert data["counts"] == {"valid": 8} and data["has_masks"] is True
    assert data["class_balance"] == {"valid": {"0": 4, "1": 4}}
    slide_ids = {image["slide_id"] for image in document["images"]}
    assert slide_ids and slide_ids <= {f"valid-slide-{i}" for i in range(3)}
    assert document["settings"]["uncertainty"]["unit"] == "slide"
    # The folder declares no label region: the checks built on PCam's centre 32x32 do not apply, and page one
    # says so; stated, they run.
    assert data["label_region"] == "none" and document["evidence"] is None
    sections = {row["section"] for row in document["summary"]["checks"]}
    assert "evidence" not in sections and "localisation" not in sections
    assert any(text.startswith("Not applied: the right-for-the-right-reason test and the centre-attribution checks")
               for text in document["summary"]["warnings"])
    assert run_build(root, checkpoint_a, tmp_path / "stated", tmp_path / "cache", "--sanity-images", "0",
                     "--stain-images", "0", "--stability", "none", "--label-region", "centre32") == 0
    stated = json.loads((tmp_path / "stated" / "report.json").read_text())
    assert stated["data"]["label_region"] == "centre32" and stated["evidence"] is not None
    assert {"evidence", "localisation"} <= {row["section"] for row in stated["summary"]["checks"]}


def test_class_folders_must_name_two_different_folders_and_only_the_two_classes(tmp_path):
    with pytest.raises(ConfigError, match="two different folder names"):
        resolve_config(flag_values={"class_folders": {"tumour": "normal"}})
    toml = tmp_path / "audit.toml"
    toml.write_text('[class_folders]\nbenign = "x"\n')
    with pytest.raises(ConfigError, match=r"unknown key 'benign' in \[class_folders\].*valid keys: tumour, normal"):
        load_config_file(toml)


def test_inspect_describes_an_image_folder(tmp_path, capsys):
    root = write_folder(tmp_path / "patches", splits=("train", "valid"), slides=True, masks=True)
    assert main(["data", "inspect", str(root)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{root}  source=folder  fingerprint=")
    assert "  valid: 12 patches, 6 positive (50.0%)" in lines
    assert "    96x96 images: 2 .jpeg, 2 .jpg, 4 .png, 2 .tif, 2 .tiff" in lines
    assert "    masks: yes; slide ids (patches.csv): yes, 3 slides" in lines
    assert "    test (explained with --split test): MISSING" in lines
    assert main(["data", "inspect", str(root), "--split", "test"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"reportgen: error: {root}: split 'test' is missing (no folder test/), and 'reportgen build' needs it; "
        "add its files or choose another split with --split"]


def test_a_label_region_is_centre32_or_none():
    assert resolve_config(flag_values={"label_region": "centre32"}).label_region == "centre32"
    with pytest.raises(ConfigError, match="^option 'label_region' 'middle' is unknown; choose 'centre32'"):
        resolve_config(flag_values={"label_region": "middle"})


# --------------------------------------------------------------------------- patches of another size


def test_a_build_on_128_px_patches_keeps_their_pixels_and_says_nothing_of_a_centre_rule(tmp_path, checkpoint_a,
                                                                                         capsys):
    root = write_folder(tmp_path / "patches", per_class=4, splits=("valid",), size=128, slides=True, masks=True)
    out = tmp_path / "report"
    # checkpoint_a records that its network takes 96 px: the model resizes each 128 px patch to 96 inside.
    assert run_build(root, checkpoint_a, out, tmp_path / "cache", "--stability", "none") == 0
    document = json.loads((out / "report.json").read_text())
    assert document["data"]["patch_size"] == 128 and document["data"]["label_region"] == "none"
    assert document["model"]["preprocessing"]["input_size"] == 128
    assert document["model"]["preprocessing"]["resize_to"] == 96
    with h5py.File(out / "attributions.h5", "r") as stored:
        assert stored["images"].shape == (4, 128, 128, 3) and stored["masks"].shape == (4, 128, 128)
        assert all(stored[f"maps/{name}"].shape == (4, 128, 128) for name in document["methods"])
    # The sanity and stain steps ran on the 128 px patches too.
    assert document["sanity"]["images"] == 2 and document["stain_robustness"] is not None
    # No label region: the notes say nothing of a centre square, the localisation prose judges nothing.
    notes = [image["note"] for image in document["images"]]
    assert notes and not any("centre square" in note for note in notes), notes
    html = (out / "report.html").read_text()
    assert "The data declare no region that decides the label" in html
    assert "centre 43&times;43" in html  # the centre third of 128 px, named with its side
    assert "<th>Patch size</th><td>128x128 pixels</td>" in html
    assert "Cyan square" not in html and "White outline: the ground-truth tumour mask.</li>" in html

    # PCam's centre 32x32 is refused for 128 px patches, in one line, before any work; the report stays.
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    capsys.readouterr()
    assert run_build(root, checkpoint_a, out, tmp_path / "cache", "--label-region", "centre32") == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and "label_region 'centre32' is PCam's centre 32x32 of a 96x96 patch, but these " \
                               "patches are 128x128" in lines[0], lines
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before


def test_the_centre_square_is_drawn_only_where_the_centre_decides_the_label():
    from reportgen.report.figures import CENTRE_SQUARE_COLOUR, overlay

    image = np.zeros((96, 96, 3), dtype=np.uint8)
    values = np.zeros((96, 96))
    colour = np.all(overlay(image, values, alpha=0.0) == CENTRE_SQUARE_COLOUR, axis=-1)
    assert colour.sum() == 4 * 32 - 4 and colour[32, 32:64].all()  # the one-pixel border of PCam's centre 32x32
    assert not np.all(overlay(image, values, alpha=0.0, label_square=False) == CENTRE_SQUARE_COLOUR, axis=-1).any()


def test_the_network_takes_the_stated_side_else_the_recorded_else_the_patches_own():
    import torch

    from reportgen.model.checkpoint import LoadedModel, fit_to_patches
    from reportgen.model.network import IDENTITY_PREPROCESSING, PCamClassifier, Preprocessing
    from reportgen.model.settings import TrainSettings

    def loaded(preprocessing, source):
        torch.manual_seed(0)
        return LoadedModel(model=PCamClassifier(preprocessing).eval(),
                           info={"preprocessing_source": source, "architecture": "resnet18"})

    def fitted(model, **given):
        pre = fit_to_patches(model, 128, **given).model.preprocessing
        return pre.input_size, pre.resize_to

    assert fitted(loaded(Preprocessing(), "checkpoint")) == (128, 96)  # trained at 96: resized to it
    assert fitted(loaded(Preprocessing(), "checkpoint"), input_size=128) == (128, None)
    assert fitted(loaded(Preprocessing().taking(160), "checkpoint")) == (128, 160)  # recorded 160 stays
    assert fitted(loaded(IDENTITY_PREPROCESSING, "assumed")) == (128, None)  # a plain state dict records nothing
    model = loaded(Preprocessing(), "checkpoint")
    fit_to_patches(model, 128)
    assert model.model.normalize.resize_to == 96 and model.info["preprocessing"]["input_size"] == 128
    assert model.model(torch.zeros(1, 3, 128, 128)).shape == (1, 2)
    # Training on 128 px patches: the network takes them at their own side unless input_size says otherwise.
    assert TrainSettings().resolved_preprocessing(128) == IDENTITY_PREPROCESSING.for_patches(128)
    assert TrainSettings().resolved_preprocessing(128).resize_to is None
    assert TrainSettings(input_size=96).resolved_preprocessing(128).resize_to == 96
    assert TrainSettings().resolved_preprocessing() == TrainSettings().resolved_preprocessing(96)

# --------------------------------------------------------------------------- train and inspect with the configuration


def _renamed_folder(tmp_path, config_text=""):
    """An image folder whose class folders are TUM/ and NORM/ (4 patches each, train and valid), and a
    configuration file naming them, with ``config_text`` after the table."""
    root = write_folder(tmp_path / "patches", per_class=4, splits=("train", "valid"), folders=("TUM", "NORM"))
    toml = tmp_path / "audit.toml"
    toml.write_text(f'data_dir = "{root.as_posix()}"\n{config_text}\n[class_folders]\ntumour = "TUM"\nnormal = "NORM"\n')
    return root, toml


def test_train_reads_the_class_folders_of_the_configuration_file_and_flags_override_it(tmp_path, capsys):
    from reportgen.model.checkpoint import load_checkpoint

    # images and label_region are build keys train has no use for; seed is overridden by the flag.
    root, toml = _renamed_folder(tmp_path, 'images = 4\nlabel_region = "centre32"\nepochs = 1\ntrain_fraction = 1.0\n'
                                           "seed = 3\ndevice = \"cpu\"")
    out = tmp_path / "model.pt"
    assert main(["train", "--config", str(toml), "--seed", "5", "--out", str(out), "-q"]) == 0
    assert capsys.readouterr().out == f"checkpoint written to {out}\n"
    info = load_checkpoint(out).info
    training = info["training"]
    assert (training["seed"], training["epochs"], training["train_fraction"], training["train_size"]) == (5, 1, 1.0, 8)
    with open_pcam(root, class_folders={"tumour": "TUM", "normal": "NORM"}) as data:
        assert info["data_fingerprint"] == data.fingerprint


def test_inspect_names_the_class_folders_of_the_configuration_file_and_counts_each_class(tmp_path, capsys):
    root, toml = _renamed_folder(tmp_path)
    assert main(["data", "inspect", str(root), "--config", str(toml)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == "  class folders: NORM/ = normal (label 0), TUM/ = tumour (label 1)"
    assert lines[2].startswith("  label region: none (the data declare no region that decides the label; a build "
                               "does not apply the right-for-the-right-reason and centre-attribution checks")
    for split in ("train", "valid"):
        at = lines.index(f"  {split}: 8 patches, 4 positive (50.0%)")
        assert lines[at + 1] == "    4 normal in NORM/, 4 tumour in TUM/"
    # The directory may come from the file too, and a stated label region is reported as the build takes it.
    toml.write_text(toml.read_text().replace("[class_folders]", 'label_region = "centre32"\n[class_folders]'))
    assert main(["data", "inspect", "--config", str(toml)]) == 0
    out = capsys.readouterr().out
    assert f"{root}  source=folder" in out
    assert "  label region: centre32 (the centre 32x32 decides the label (PCam's rule))" in out.splitlines()
    assert main(["data", "inspect", "--config", str(toml), "--label-region", "none"]) == 0  # the flag overrides
    assert "  label region: none (" in capsys.readouterr().out


@pytest.mark.parametrize("command", [["train", "--epochs", "1", "--out", "model.pt"], ["data", "inspect"]],
                         ids=["train", "inspect"])
def test_without_the_configuration_renamed_class_folders_are_one_line_naming_the_folder_and_the_fix(
        tmp_path, capsys, command):
    root, _ = _renamed_folder(tmp_path)
    out_args = [str(tmp_path / arg) if arg == "model.pt" else arg for arg in command]
    args = [*out_args, "--data-dir", str(root)] if command[0] == "train" else [*out_args, str(root)]
    assert main([*args, "-q"]) == 2
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        f"reportgen: error: {root / 'train' / 'NORM'}: not a class folder of the train split (expected "
        "train/normal/ and train/tumour/); move it out, or name the class folders with class_folders in the "
        "configuration file (--config FILE)"]
    assert captured.out == "" and not (tmp_path / "model.pt").exists()


@pytest.mark.parametrize("text, error", [
    ("imagess = 4", "unknown key 'imagess' in config file"),
    ('epochs = "one"', "option 'epochs' must be a whole number, got 'one'"),
    ('label_region = "middle"', "option 'label_region' 'middle' is unknown"),
    ('[class_folders]\ntumor = "TUM"', "unknown key 'tumor' in [class_folders]"),
])
def test_a_bad_configuration_file_is_the_builds_one_line_error_for_train_and_inspect(tmp_path, capsys, text, error):
    root = write_folder(tmp_path / "patches", per_class=2, splits=("train", "valid"))
    toml = tmp_path / "bad.toml"
    toml.write_text(text + "\n")
    commands = {"build": ["build", "--data-dir", str(root), "--out", str(tmp_path / "report")],
                "train": ["train", "--data-dir", str(root), "--out", str(tmp_path / "model.pt")],
                "inspect": ["data", "inspect", str(root)]}
    errors = {}
    for name, args in commands.items():
        assert main([*args, "--config", str(toml), "-q"]) == 2, name
        errors[name] = capsys.readouterr().err
    assert len(errors["build"].splitlines()) == 1 and error in errors["build"], errors["build"]
    assert errors["train"] == errors["inspect"] == errors["build"]


def test_inspect_without_a_directory_says_where_to_name_it(capsys):
    assert main(["data", "inspect"]) == 2
    assert capsys.readouterr().err == ("reportgen: error: name the directory to inspect: reportgen data inspect DIR, "
                                       "or data_dir in --config FILE\n")


def test_inspect_refuses_pcams_centre_rule_for_patches_of_another_size(tmp_path, capsys):
    root = write_folder(tmp_path / "patches", per_class=1, splits=("valid",), size=128)
    assert main(["data", "inspect", str(root)]) == 0
    assert "    128x128 images: 2 .png" in capsys.readouterr().out.splitlines()
    assert main(["data", "inspect", str(root), "--label-region", "centre32"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "reportgen: error: label_region 'centre32' is PCam's centre 32x32 of a 96x96 patch, but these patches are "
        "128x128; leave label_region unset (the checks built on the centre then do not apply)"]
