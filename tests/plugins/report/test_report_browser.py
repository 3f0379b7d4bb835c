"""report.html in a real browser: headless Chromium (Debian `chromium`; .ci/run installs it)
runs the page's script, and the DOM it dumps shows the leaderboard, the heatmap and the
sample rows each filter leaves."""
import json
import shutil
import subprocess
from html.parser import HTMLParser
from urllib.parse import urlencode

import pytest

from bioharness.plugins.report import write_reports
from test_report_html import _page_data, transfer_board

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--window-size=1400,2400"]


class DomRows(HTMLParser):
    """The sample rows, the leaderboard rows and the heatmap cells of a dumped DOM."""

    def __init__(self):
        super().__init__()
        self.samples, self.leaderboard, self.cells, self.count = [], [], [], ""
        self._table = None
        self._in_count = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self._table = attrs.get("id")
        elif tag == "tr" and attrs.get("class") == "sample":
            self.samples.append(attrs)
        elif tag == "tr" and self._table == "leaderboard" and "data-task" in attrs:
            self.leaderboard.append(attrs["data-task"])
        elif tag == "g" and attrs.get("class") == "cell":
            self.cells.append((attrs["data-row"], attrs["data-col"]))
        elif tag == "p" and attrs.get("id") == "count":
            self._in_count = True

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = None
        elif tag == "p":
            self._in_count = False

    def handle_data(self, data):
        if self._in_count:
            self.count += data


@pytest.fixture(scope="module")
def page(report_run, tmp_path_factory):
    assert CHROMIUM, "headless Chromium is needed: apt-get install -y chromium (.ci/run does)"
    out = tmp_path_factory.mktemp("browser") / "run"
    shutil.copytree(report_run["out"], out)
    board = transfer_board(json.loads((out / "leaderboard.json").read_text()), report_run["tuned"])
    write_reports(out, board, hooks=report_run["manager"].hooks)
    return out / "report.html"


def chromium(page, *args, fragment=""):
    url = page.as_uri() + (f"#{fragment}" if fragment else "")
    profile = page.parent / f"profile-{abs(hash((url, args)))}"
    result = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args, url],
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def dom(page, **filters):
    parser = DomRows()
    parser.feed(chromium(page, "--dump-dom", fragment=urlencode(filters)))
    return parser


def test_leaderboard_heatmap_and_every_sample(page, report_run):
    shown = dom(page)
    board = json.loads((page.parent / "leaderboard.json").read_text())
    assert shown.leaderboard == list(board["tasks"]) == ["colours", "colours_gen"]
    assert sorted(shown.cells) == [("all", "gen"), ("all", "qa"), ("qa", "gen"), ("qa", "qa")]
    assert len(shown.samples) == 40 and shown.count.startswith("showing 40 of 40 matching samples")


def test_filters_change_the_rows_shown(page, report_run):
    data = _page_data(page.read_text())
    models = data["models"]
    tuned = report_run["tuned"]

    rows = dom(page, task="colours", model=tuned).samples
    assert len(rows) == 10 and {(r["data-task"], r["data-model"]) for r in rows} == {("colours", tuned)}

    wrong = [s for s in data["samples"] if s["c"] is False]
    rows = dom(page, correct="incorrect").samples
    assert 0 < len(rows) == len(wrong) < 40 and {r["data-correct"] for r in rows} == {"false"}

    # models disagree: the two models' predictions on the same example differ
    predictions = {}
    for s in data["samples"]:
        predictions.setdefault((s["t"], s["id"]), {})[models[s["m"]]] = s["p"]
    disagree = {key for key, by_model in predictions.items() if len(set(by_model.values())) > 1}
    rows = dom(page, disagree="1").samples
    assert len(rows) == 2 * len(disagree) > 0

    rows = dom(page, q="RIVER").samples  # text search, case-insensitive: the prompt "Is river a colour?"
    assert len(rows) == 4 and all(r["data-model"] in models for r in rows)


def test_screenshot(page):
    shot = page.parent / "report.png"
    chromium(page, f"--screenshot={shot}")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
