"""End-to-end ``reportgen build`` on a tiny synthetic PCam directory with untrained checkpoints.

Tests that only read a report share one build (``shared_build``); the others
build what they need, with one method where the question allows.
"""

import json
import math
import re

import h5py
import numpy as np
import pytest
from conftest import LEAN_BUILD_ARGS, run_build

from reportgen.schema import to_json

DEFAULT_METHODS = ("integrated_gradients", "grad_cam", "lime")


def _numbers(document):
    """Every number of a report document except timings, the generation date and what the run spent."""
    document = json.loads(json.dumps(to_json(document)))
    document.pop("generated_at")
    provenance = document.pop("provenance")
    provenance.pop("timings")
    for method in document["methods"].values():
        for bookkeeping in ("seconds", "cached_patches", "forward_passes", "backward_passes"):
            method.pop(bookkeeping)  # what this run spent, not what it measured
    return document, provenance


def _document(out):
    return json.loads((out / "report.json").read_text())


def test_build_writes_html_json_and_raw_maps(shared_build):
    out = shared_build
    assert {"report.html", "report.json", "attributions.h5", "config.toml"} <= {p.name for p in out.iterdir()}
    document = _document(out)
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
    with h5py.File(out / "attributions.h5", "r") as raw:
        assert raw["images"].shape == (4, 96, 96, 3)
        for name in DEFAULT_METHODS:
            assert raw[f"maps/{name}"].shape == (4, 96, 96)
        assert raw["patch_ids"].asstr()[:].tolist() == [image["patch_id"] for image in document["images"]]
        for name in (*DEFAULT_METHODS, "random", "centre_prior", "sobel"):
            # the stored curves are the report's: their trapezoid AUCs are its per-patch deletion AUCs
            curves = raw[f"curves/{name}/deletion"][:]
            section = (document["methods"].get(name) or document["baselines"][name])["deletion_auc"]
            aucs = ((curves[:, 1:] + curves[:, :-1]) / 2).mean(axis=1)
            np.testing.assert_allclose(aucs, section["per_image"], rtol=1e-9, atol=1e-12)


def test_the_html_shows_the_documents_timings(shared_build):
    document, html = _document(shared_build), (shared_build / "report.html").read_text()
    assert "render" not in document["provenance"]["timings"]  # the document is finished before rendering
    for stage in document["provenance"]["timings"]:
        assert f"<code>{stage}</code>" in html, stage  # in the appendix, under its key


def test_sanity_records_carry_the_similarity_the_report_shows(shared_build):
    document, html = _document(shared_build), (shared_build / "report.html").read_text()
    for name, record in document["sanity"]["methods"].items():
        assert record["final"] == record["similarity"][-1]
        assert math.isclose(record["final"], np.mean(record["per_image_final"]), rel_tol=1e-9)
        assert f"{record['final']:.2f}" in html, name


def test_the_html_sanity_table_has_an_outcome_for_every_row(shared_build):
    document, html = _document(shared_build), (shared_build / "report.html").read_text()
    section = html[html.index('<section id="sanity">'):]
    section = section[:section.index("</section>")]
    header = re.search(r"<thead><tr>(.*?)</tr></thead>", section).group(1)
    assert re.findall(r"<th>(.*?)</th>", header) == ["Map", "fc", "layer4", "layer3", "layer2", "layer1",
                                                      "conv1+bn1", "Per patch, final", "Mean [95 % CI]", "Outcome"]
    rows = [re.findall(r"<td>(.*?)</td>", row) for row in re.findall(r"<tr class=[^>]*>(.*?)</tr>", section)]
    sanity = document["sanity"]
    assert len(rows) == len(sanity["methods"]) + len(sanity["controls"])
    words = {"passed": "passed", "failed": "FAILED", "inconclusive": "inconclusive"}
    expected = [words[record["outcome"]] for record in sanity["methods"].values()]
    expected += ["failed, as it must" if record["outcome"] == "failed" else f"{record['outcome']}: NOT FAILED"
                 for record in sanity["controls"].values()]
    assert [row[-1] for row in rows] == expected
    assert all(len(row) == 10 for row in rows)
    assert f"lies below {sanity['methods']['lime']['threshold']:g}" in section  # the threshold is stated


def test_same_seed_gives_identical_numbers_and_the_cache_reproduces_them(tmp_path, tiny_pcam, checkpoint_a,
                                                                        lean_build):
    # Builds of the per-patch steps (LEAN_BUILD_ARGS); the chunked and the Ray builds repeat the sanity and
    # stain numbers of shared_build in other runs.
    cache = lean_build.parent / "cache"
    assert run_build(tiny_pcam, checkpoint_a, tmp_path / "uncached", tmp_path / "unused-cache", *LEAN_BUILD_ARGS,
                     "--no-cache") == 0
    assert run_build(tiny_pcam, checkpoint_a, tmp_path / "warm", cache, *LEAN_BUILD_ARGS) == 0
    cold, uncached, warm = (_document(out) for out in (lean_build, tmp_path / "uncached", tmp_path / "warm"))
    assert all(m["cached_patches"] == 0 for m in cold["methods"].values())
    assert all(m["cached_patches"] == 4 for m in warm["methods"].values())
    assert _numbers(cold)[0] == _numbers(uncached)[0] == _numbers(warm)[0]


def test_target_label_escaped_names_and_a_passing_gate(tmp_path, tiny_pcam, checkpoint_a):
    code = run_build(tiny_pcam, checkpoint_a, tmp_path / "label", tmp_path / "cache", "--target", "label",
                     "--methods", "grad_cam", *LEAN_BUILD_ARGS, "--model-name", "<script>alert(1)</script>",
                     "--title", "Audit <b>&</b>", "--fail-if", "accuracy<0")
    assert code == 0  # a gate that does not hold leaves the exit code at 0
    document = _document(tmp_path / "label")
    assert all(image["target"] == image["label"] for image in document["images"])
    assert document["settings"]["target"] == "label"
    html = (tmp_path / "label" / "report.html").read_text()
    assert html.lower().count("<script") == 1  # the report's own gallery filter
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Audit &lt;b&gt;&amp;&lt;/b&gt;" in html


def test_compare_and_fail_if_across_two_checkpoints(tmp_path, tiny_pcam, checkpoint_b, shared_build, capsys):
    previous = shared_build
    # The gates and the comparison read the model, the maps and the evidence: no sanity, stain or stability step.
    code = run_build(tiny_pcam, checkpoint_b, tmp_path / "current", tmp_path / "cache", "--methods", "grad_cam",
                     "--sanity-images", "0", "--stain-images", "0", "--stability", "none",
                     "--compare", str(previous / "report.json"), "--fail-if", "accuracy<1.01",
                     "--fail-if", "roc_auc<-1", "--fail-if", "centre_mass_decrease>1", "--fail-if", "right_reason_failed")
    assert code == 3  # the accuracy gate holds: an untrained model is below 1.01
    assert "gate failed: accuracy<1.01" in capsys.readouterr().err
    document = _document(tmp_path / "current")  # the report is still written
    assert document["comparison"] is not None
    assert _document(previous)["model"]["checkpoint"]["sha256"] != document["model"]["checkpoint"]["sha256"]
    gates = {gate["expression"]: gate["passed"] for gate in document["gates"]}
    assert gates == {"accuracy<1.01": False, "roc_auc<-1": True, "centre_mass_decrease>1": True,
                     "right_reason_failed": next(row["outcome"] for row in document["summary"]["checks"]
                                                 if row["gate"] == "right_reason") != "fail"}
    moved = {row["quantity"] for row in document["comparison"]["evidence"] if row["method"] == "grad_cam"}
    assert moved == {"centre_mass", "mass_in_mask"}  # the tiny data have masks
    details = {gate["expression"]: gate["detail"] for gate in document["gates"]}
    assert "largest centre mass change: grad_cam fell by" in details["centre_mass_decrease>1"]
    html = (tmp_path / "current" / "report.html").read_text()
    assert "Changes since the previous report" in html and "Where the evidence moved" in html


@pytest.mark.parametrize("layout, wrap, fmt, prefix", [
    ("DataParallel", lambda sd: {f"module.{k}": v for k, v in sd.items()}, "state_dict", "module."),
    ("Lightning", lambda sd: {"state_dict": {f"model.{k}": v for k, v in sd.items()}, "epoch": 3,
                              "pytorch-lightning_version": "2.4.0", "hyper_parameters": {"lr": 0.001}},
     "lightning", "model."),
])
def test_checkpoints_of_other_trainers_build_and_record_their_layout(tmp_path, tiny_pcam, checkpoint_a, layout,
                                                                      wrap, fmt, prefix):
    import torch

    state_dict = torch.load(checkpoint_a, weights_only=True)["state_dict"]
    path = tmp_path / f"{layout}.ckpt"
    torch.save(wrap(state_dict), path)
    # Only the checkpoint's loading is in question: no sanity, stain or stability step.
    code = run_build(tiny_pcam, path, tmp_path / "report", tmp_path / "cache", "--methods", "grad_cam",
                     "--sanity-images", "0", "--stain-images", "0", "--stability", "none",
                     "--preprocessing", "identity")
    assert code == 0
    checkpoint = _document(tmp_path / "report")["model"]["checkpoint"]
    assert (checkpoint["format"], checkpoint["key_prefix"]) == (fmt, prefix)
