"""The templates reach a non-editable install: build a wheel, install it elsewhere, render from it."""

import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

from reportgen.judgement import sections
from reportgen.report.sections import PARTIALS

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_ships_templates_and_renders_from_a_plain_install(tmp_path):
    wheel_dir, target = tmp_path / "wheel", tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
                    "-w", str(wheel_dir), str(ROOT)], check=True, cwd=tmp_path)
    (wheel,) = wheel_dir.glob("reportgen-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "reportgen/templates/report.html.j2" in names
    assert "reportgen/templates/report.css" in names
    assert {f"reportgen/templates/{PARTIALS}/{section.anchor}.html.j2" for section in sections()} <= set(names)

    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--quiet",
                    "--target", str(target), str(wheel)], check=True, cwd=tmp_path)
    probe = (
        "import reportgen, reportgen.report.render as render;"
        "print(reportgen.__file__);"
        "print(len(render._load_template('report.html.j2')), len(render._load_template('report.css')));"
        "render.template_environment().get_template('report.html.j2');"
        "from reportgen.judgement import sections;"
        "print(min(len(render._load_template(f'sections/{s.anchor}.html.j2')) for s in sections()))"
    )
    # -S skips site-packages' .pth files, so the development install's import hook stays out;
    # the dependencies are added back as a plain path after the installed copy.
    dependencies = sysconfig.get_paths()["purelib"]
    setup = f"import sys; sys.path[:0] = [{str(target)!r}]; sys.path.append({dependencies!r}); "
    result = subprocess.run([sys.executable, "-S", "-c", setup + probe],
                            capture_output=True, text=True, cwd=tmp_path, check=True)
    module_path, sizes, smallest_partial = result.stdout.splitlines()
    assert module_path.startswith(str(target))  # the installed copy, not the source tree
    assert all(int(size) > 100 for size in sizes.split())
    assert int(smallest_partial) > 100
