"""End-to-end ``reportgen build`` on a tiny synthetic PCam directory with untrained checkpoints."""

import json
import math

import numpy as np

from reportgen.cli import main
from tests.conftest import FAST_BUILD_ARGS

DEFAULT_METHODS = ("integrated_gradients", "grad_cam", "lime")


def _build(tmp_path, tiny_pcam, checkpoint, out="report", *extra):
    out_dir = tmp_path / out
    code = main(["build", "--data-dir", str(tiny_pcam), "--checkpoint", str(checkpoint), "--out", str(out_dir),
                 "--cache-dir", str(tmp_path / "cache"), *FAST_BUILD_ARGS, *extra])
    return code, out_dir


def _numbers(document):
    """Every number of a report document except timings and the generation date."""
    document = dict(document)
    document.pop("generated_at")
    provenance = dict(document.pop("provenance"))
    provenance.pop("timings")
    for method in document["methods"].values():
        for bookkeeping in ("seconds", "cached_patches", "forward_passes", "backward_passes"):
            method.pop(bookkeeping)  # what this run spent, not what it measured
    return document, provenance


def test_build_writes_html_json_and_raw_maps(tmp_path, tiny_pcam, checkpoint_a):
    code, out = _build(tmp_path, tiny_pcam, checkpoint_a)
    assert code == 0
    assert {"report.html", "report.json", "attributions.npz", "config.toml"} <= {p.name for p in out.iterdir()}
    document = json.loads((out / "report.json").read_text())
    assert document["schema_version"] == 1
    assert 0.0 <= document["model"]["val_accuracy"] <= 1.0
    for name in DEFAULT_METHODS:
        for metric in ("deletion_auc", "insertion_auc"):
            section = document["methods"][name][metric]
            assert len(section["per_image"]) == 4
            assert math.isclose(section["mean"], np.mean(section["per_image"]), rel_tol=1e-9)
            assert section["ci95"][0] <= section["mean"] <= section["ci95"][1]
    for reference in ("random", "centre_prior", "sobel"):
        assert 0.0 <= document["baselines"][reference]["deletion_auc"]["mean"] <= 1.0
        assert 0.0 <= document["baselines"][reference]["insertion_auc"]["mean"] <= 1.0
    assert len(document["images"]) == 4
    for image in document["images"]:
        assert set(image) >= {"patch_id", "label", "prediction", "probability", "note"}
        assert image["patch_id"].startswith("valid:")
        assert image["target"] == image["prediction"]  # explanations follow the prediction by default
    assert document["sanity"]["images"] == 2
    raw = np.load(out / "attributions.npz")
    assert raw["images"].shape == (4, 96, 96, 3)
    for name in DEFAULT_METHODS:
        assert raw[f"maps_{name}"].shape == (4, 96, 96)
    assert list(raw["patch_ids"]) == [image["patch_id"] for image in document["images"]]


def test_same_seed_gives_identical_numbers_and_cache_reproduces_them(tmp_path, tiny_pcam, checkpoint_a):
    _, first = _build(tmp_path, tiny_pcam, checkpoint_a, "first", "--no-cache")
    _, second = _build(tmp_path, tiny_pcam, checkpoint_a, "second", "--no-cache")
    _, cold = _build(tmp_path, tiny_pcam, checkpoint_a, "cold")
    _, warm = _build(tmp_path, tiny_pcam, checkpoint_a, "warm")
    documents = [json.loads((out / "report.json").read_text()) for out in (first, second, cold, warm)]
    assert all(m["cached_patches"] == 4 for m in documents[3]["methods"].values())
    assert all(m["cached_patches"] == 0 for m in documents[2]["methods"].values())
    numbers = [_numbers(d)[0] for d in documents]
    assert numbers[0] == numbers[1] == numbers[2] == numbers[3]


def test_target_label_explains_the_ground_truth(tmp_path, tiny_pcam, checkpoint_a):
    code, out = _build(tmp_path, tiny_pcam, checkpoint_a, "label", "--target", "label", "--methods", "grad_cam")
    assert code == 0
    document = json.loads((out / "report.json").read_text())
    assert all(image["target"] == image["label"] for image in document["images"])
    assert document["settings"]["target"] == "label"


def test_model_name_is_escaped_in_the_html(tmp_path, tiny_pcam, checkpoint_a):
    code, out = _build(tmp_path, tiny_pcam, checkpoint_a, "escaped", "--methods", "grad_cam",
                       "--model-name", "<script>alert(1)</script>", "--title", "Audit <b>&</b>")
    assert code == 0
    html = (out / "report.html").read_text()
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Audit &lt;b&gt;&amp;&lt;/b&gt;" in html


def test_compare_and_fail_if_across_two_checkpoints(tmp_path, tiny_pcam, checkpoint_a, checkpoint_b, capsys):
    code, previous = _build(tmp_path, tiny_pcam, checkpoint_a, "previous")
    assert code == 0
    code, current = _build(tmp_path, tiny_pcam, checkpoint_b, "current",
                           "--compare", str(previous / "report.json"), "--fail-if", "accuracy<1.01",
                           "--fail-if", "roc_auc<-1")
    assert code == 3  # the accuracy gate holds: an untrained model is below 1.01
    assert "gate failed: accuracy<1.01" in capsys.readouterr().err
    document = json.loads((current / "report.json").read_text())  # the report is still written
    comparison = document["comparison"]
    assert comparison is not None
    old = json.loads((previous / "report.json").read_text())
    assert old["model"]["checkpoint"]["sha256"] != document["model"]["checkpoint"]["sha256"]
    gates = {gate["expression"]: gate["passed"] for gate in document["gates"]}
    assert gates == {"accuracy<1.01": False, "roc_auc<-1": True}
    assert "Changes since the previous report" in (current / "report.html").read_text()


def test_fail_if_passing_gates_exit_zero(tmp_path, tiny_pcam, checkpoint_a):
    code, _ = _build(tmp_path, tiny_pcam, checkpoint_a, "passing", "--methods", "grad_cam",
                     "--fail-if", "accuracy<0")
    assert code == 0
