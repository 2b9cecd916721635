"""One ordered list of sections drives the contents and the body: each has its partial, both follow its order."""

import re
from importlib import resources

import pytest
from gold.fixture import make_document, make_figures, make_previous

from reportgen.judgement import compare_reports, sections, summarise_findings
from reportgen.report.render import render_html
from reportgen.report.sections import PARTIALS

SECTIONS = sections()

SECTION_ID = re.compile(r'<section id="([\w-]+)"')
CONTENTS_LINK = re.compile(r'<li><a href="#([\w-]+)">([^<]*)</a></li>')
#: The optional sections a document may lack, and the document keys that remove them.
OPTIONAL = {"gates": ("gates",), "changes": ("comparison",), "substrates": ("substrate_rankings", "substrate_scope"),
            "agreement": ("agreement",), "localisation": ("localisation",), "evidence": ("evidence",),
            "slides": ("slides",), "sanity": ("sanity",), "stability": ("stability",), "stain": ("stain_robustness",)}
EVIDENCE = {"rule": "r", "substrate": "mean", "limit": 0.2, "tumour_calls": 6,
            "lost_without_periphery": {"mean": 0.0, "ci95": [0.0, 0.0], "n": 6},
            "kept_without_centre": {"mean": 0.0, "ci95": [0.0, 0.0], "n": 6}, "decision": "centre",
            "uniform_centre_share": 1024 / 9216, "uniform_mask_share_tp": None, "periphery_only_negatives": None,
            "periphery_only_called_tumour": None, "methods": {},
            "per_image": {"without_periphery": [], "without_centre": []}}
SLIDES = {"rule": "r", "split": {"slide-a": {"patches": 40, "accuracy": 0.9}, "slide-b": {"patches": 30, "accuracy": 0.8}},
          "explained": {}, "worst": {}}


def _partial_name(section) -> str:
    return f"{PARTIALS}/{section.anchor}.html.j2"


def _partial(section) -> str:
    return resources.files("reportgen.templates").joinpath(_partial_name(section)).read_text(encoding="utf-8")


def _full_document() -> dict:
    """The fixture's document with every optional section present: gates, a comparison, evidence and slides."""
    document = make_document(3)
    document["gates"] = [{"expression": "accuracy<0.9", "passed": False, "detail": "accuracy is 0.8600"}]
    document["comparison"] = compare_reports(document, make_previous(document))
    document["evidence"], document["slides"] = EVIDENCE, SLIDES
    document["summary"] = summarise_findings(document)
    return document


def _rendered(document: dict) -> tuple[list[tuple[str, str]], list[str], str]:
    """(contents as (anchor, title), the body's section ids after page one, the HTML) of a rendered document."""
    html = render_html(document, make_figures(3))
    nav = html.split('<nav class="contents"', 1)[1].split("</nav>", 1)[0]
    body = html.split("</nav>", 1)[1]
    return CONTENTS_LINK.findall(nav), SECTION_ID.findall(body), html


def test_section_keys_are_unique_and_every_partial_is_listed():
    keys = [section.anchor for section in SECTIONS]
    assert len(set(keys)) == len(keys)
    assert set(OPTIONAL) <= set(keys)
    folder = resources.files("reportgen.templates").joinpath(PARTIALS)
    files = sorted(entry.name for entry in folder.iterdir() if entry.name.endswith(".html.j2"))
    assert files == sorted(_partial_name(section).rsplit("/", 1)[1] for section in SECTIONS)


@pytest.mark.parametrize("section", SECTIONS, ids=lambda section: section.anchor)
def test_each_section_has_its_partial_holding_its_anchor_once(section):
    text = _partial(section)
    assert SECTION_ID.findall(text) == [section.anchor]
    assert text.rstrip().endswith("</section>")


def _check_follows_the_list(document: dict, missing: set[str]):
    contents, body, html = _rendered(document)
    expected = [(section.anchor, section.title) for section in SECTIONS if section.anchor not in missing]
    assert contents == expected
    assert body == [anchor for anchor, _ in expected]
    # Every in-page link, page one's checks and the warnings' included, lands on an element of the page.
    targets = set(re.findall(r'\bid="([^"]+)"', html))
    assert set(re.findall(r'href="#([^"?]+)', html)) <= targets


def test_contents_and_body_follow_the_list_with_every_section():
    _check_follows_the_list(_full_document(), missing=set())


def test_contents_and_body_leave_out_the_same_absent_sections():
    document = make_document(3)
    for key in OPTIONAL:
        for name in OPTIONAL[key]:
            document[name] = None
    document["summary"] = summarise_findings(document)
    _check_follows_the_list(document, missing=set(OPTIONAL))
