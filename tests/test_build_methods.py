"""A new explainer is one class and one registration line; its setting reaches it from TOML and --set.

The toy method's map is the image's darkness raised to a power: it ignores
the model, so the randomisation sanity check must fail it, and the report
must say so with the similarity it measured.
"""

import json
import re

import h5py
import numpy as np
import pytest
from conftest import run_build

from reportgen.explain import Explainer, ExplainerInfo, register, unregister
from reportgen.explain._settings import check_float


class Darkness(Explainer):
    """Setting: ``power`` (1.0). Map: (1 - mean channel value) ** power; the model is never asked."""

    name = "darkness"
    defaults = {"power": 1.0}

    @classmethod
    def _check_settings(cls, settings):
        settings["power"] = check_float(cls.name, "power", settings["power"], minimum=0.0, inclusive=False)
        return settings

    def _attribute(self, images, targets):
        return ((1.0 - images.mean(dim=1)) ** self.settings["power"]).cpu().numpy(), None, None


@pytest.fixture
def darkness():
    register(ExplainerInfo(title="Darkness", factory=Darkness, default=False, signed=False,
                           reference="a test method"))
    yield
    unregister("darkness")


def _document(out):
    return json.loads((out / "report.json").read_text())


def test_a_registered_method_takes_its_setting_from_toml_and_from_the_command_line(tmp_path, tiny_pcam,
                                                                                    checkpoint_a, darkness):
    config = tmp_path / "report.toml"
    config.write_text('[build]\nmethods = ["darkness"]\n\n[methods.darkness]\npower = 2.0\n')
    args = (tiny_pcam, checkpoint_a)
    # Only the setting and the maps are in question: no sanity or stain step.
    skip = ("--sanity-images", "0", "--stain-images", "0")
    assert run_build(*args, tmp_path / "toml", tmp_path / "cache", "--config", str(config), *skip) == 0
    assert run_build(*args, tmp_path / "flag", tmp_path / "cache", "--config", str(config),
                     "--set", "darkness.power=3", *skip) == 0
    from_toml, from_flag = _document(tmp_path / "toml"), _document(tmp_path / "flag")
    assert from_toml["methods"]["darkness"]["settings"]["power"] == 2.0
    assert from_flag["methods"]["darkness"]["settings"]["power"] == 3.0  # the flag beats the file
    stored = {}
    for out in ("toml", "flag"):
        with h5py.File(tmp_path / out / "attributions.h5", "r") as raw:
            stored[out] = {"images": raw["images"][:], "darkness": raw["maps/darkness"][:]}
    darkness_of = 1.0 - stored["toml"]["images"].astype(np.float32).mean(axis=-1) / 255.0
    np.testing.assert_allclose(stored["toml"]["darkness"], darkness_of ** 2, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(stored["flag"]["darkness"], darkness_of ** 3, rtol=1e-5, atol=1e-6)
    assert "[methods.darkness]\npower = 3.0" in (tmp_path / "flag" / "config.toml").read_text()


def test_an_invalid_setting_of_a_registered_method_is_one_line_before_any_work(tmp_path, tiny_pcam, checkpoint_a,
                                                                             darkness, capsys):
    code = run_build(tiny_pcam, checkpoint_a, tmp_path / "bad", tmp_path / "cache", "--methods", "darkness",
                     "--set", "darkness.power=-1")
    assert code == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert error == ["reportgen: error: darkness: setting power=-1 is invalid; use a number > 0.0"]
    assert not (tmp_path / "bad").exists() and not (tmp_path / "cache").exists()


def test_a_method_that_ignores_the_model_fails_the_sanity_check_and_the_report_shows_its_similarity(
        tmp_path, tiny_pcam, checkpoint_a, darkness):
    code = run_build(tiny_pcam, checkpoint_a, tmp_path / "report", tmp_path / "cache", "--methods",
                     "darkness,grad_cam", "--fail-if", "sanity_failed", "--stain-images", "0", "--stability", "none")
    assert code == 3  # the report is written, and the gate fails
    document = _document(tmp_path / "report")
    sanity = document["sanity"]
    assert sanity["stages"] == ["backbone.fc", "backbone.layer4", "backbone.layer3", "backbone.layer2",
                                "backbone.layer1", "backbone.conv1+backbone.bn1"]  # one stage per block
    record = sanity["methods"]["darkness"]
    assert record["outcome"] == "failed" and record["passed"] is False
    assert record["final"] == pytest.approx(1.0)  # the maps do not change when the model is destroyed
    assert record["ci95"][0] >= record["threshold"] == 0.5
    assert len(record["per_image_final"]) == sanity["images"] == 2
    control = sanity["controls"]["sobel"]
    assert control["outcome"] == "failed" and control["final"] == pytest.approx(1.0) and sanity["trustworthy"]
    warning = next(text for text in document["summary"]["warnings"] if "sanity check" in text)
    assert warning.startswith("Darkness failed the model-randomisation sanity check (similarity 1.00 [1.00, 1.00] ")
    gate = document["gates"][0]
    assert gate["passed"] is False and "Darkness: model-randomisation sanity check: FAIL" in gate["detail"]
    html = (tmp_path / "report" / "report.html").read_text()
    assert "similarity 1.00" in html and "similarity nan" not in html
    assert re.search(r"<td>Darkness</td>(<td>1\.00</td>){6}<td>1\.00 to 1\.00 \(2/2 \u2265 0\.5\)</td>"
                     r"<td>1\.00 \[1\.00, 1\.00\]</td><td>FAILED</td>", html)
    assert "<td>Sobel edges (control, must fail)</td>" in html
