"""report.html in a real browser: headless Chromium (Debian `chromium`; .ci/run installs it)
runs the page's script, and the DOM it dumps shows the leaderboard, the heatmap and the
sample rows each filter leaves, and the weight and colour the browser gives every gain."""
import html
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from urllib.parse import urlencode

import pytest

from bioharness.plugins.report import write_reports
from test_report_html import _page_data, transfer_board

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"]


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
        elif tag == "g" and (attrs.get("class") or "").split()[:1] == ["cell"]:
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
    window = [] if any(a.startswith("--window-size=") for a in args) else ["--window-size=1400,2400"]
    result = subprocess.run([CHROMIUM, *FLAGS, *window, f"--user-data-dir={profile}", *args, url],
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


# Appended to a copy of report.html: what the browser computed for every gain per category,
# heatmap cell and paired difference (font weight, colour, fill), written into the page.
COMPUTED_STYLES = """<script>
(function () {
  var out = [];
  function style(el) { var cs = getComputedStyle(el); return {weight: cs.fontWeight, color: cs.color, fill: cs.fill}; }
  document.querySelectorAll("#gains td.gain").forEach(function (td) {
    out.push(Object.assign({kind: "gain", model: td.dataset.model, category: td.dataset.category}, style(td)));
  });
  document.querySelectorAll("#heatmap g.cell").forEach(function (g) {
    var text = style(g.querySelector("text.v"));
    out.push({kind: "cell", row: g.dataset.row, col: g.dataset.col, fill: style(g.querySelector("rect")).fill,
              weight: text.weight, color: text.color});
  });
  document.querySelectorAll("#differences tr").forEach(function (tr) {
    if (tr.cells.length > 2 && tr.cells[0].tagName === "TD") {
      out.push(Object.assign({kind: "difference", task: tr.cells[0].textContent, model: tr.cells[1].textContent},
                             style(tr.cells[2])));
    }
  });
  var pre = document.createElement("pre");
  pre.id = "computed";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>"""
GREEN, RED = "rgb(23, 109, 44)", "rgb(170, 17, 17)"  # report.css: .pos, .neg


def computed_styles(page):
    probe = page.with_name("computed-styles.html")
    probe.write_text(page.read_text().replace("</body>", COMPUTED_STYLES + "</body>"))
    dumped = chromium(probe, "--dump-dom")
    return json.loads(html.unescape(re.search(r'<pre id="computed">(.*?)</pre>', dumped, re.S).group(1)))


def _green(rgb):
    r, g, b = (int(x) for x in re.findall(r"\d+", rgb)[:3])
    return g > r + 20 and g > b + 20


def test_a_gain_whose_ci_includes_zero_is_neither_bold_nor_green(gains_run):
    """In Chromium, as a reader sees it: the gains per category, the transfer heatmap and the
    paired differences are bold and green (red) exactly where the CI excludes 0."""
    board, out = gains_run["board"], gains_run["out"]
    shown = computed_styles(out / "report.html")
    gains = {(g["model"], g["category"]): g for g in shown if g["kind"] == "gain"}
    assert len(gains) == 4 * 3
    for model, per_category in board["gain_by_category"].items():
        for category, gain in per_category.items():
            seen = gains[(model, category)]
            if not gain["significant"]:
                assert int(seen["weight"]) < 600 and not _green(seen["color"]) and seen["color"] != RED, (gain, seen)
            else:
                assert int(seen["weight"]) >= 700 and seen["color"] == (GREEN if gain["gain"] > 0 else RED), (gain, seen)
    assert sum(1 for g in gains.values() if int(g["weight"]) < 600) >= 5  # noise is common: 40 questions a task
    cells = [c for c in shown if c["kind"] == "cell"]
    assert len(cells) == 4 * 3
    for cell in cells:
        gain = board["transfer"][cell["row"]][cell["col"]]
        if gain["significant"]:
            assert int(cell["weight"]) >= 600 and _green(cell["fill"]) == (gain["gain"] > 0)
        else:
            assert int(cell["weight"]) < 600 and cell["fill"] == "rgb(244, 244, 244)", (gain, cell)
    differences = [d for d in shown if d["kind"] == "difference"]
    assert len(differences) == 4 * 3
    for d in differences:
        spec = {name: spec for name, spec in gains_run["specs"].items()}[d["model"]]
        diff = board["tasks"][d["task"]]["vs_baseline"][spec]
        assert (int(d["weight"]) >= 700) == diff["significant"] and _green(d["color"]) == (diff["significant"] and diff["diff"] > 0)


def test_screenshot_of_the_gains_and_the_transfer_matrix(gains_run):
    """Kept in the test's output folder: the gains with their CIs, the transfer heatmap with
    BioInstruct's published headline gains beside it."""
    page = gains_run["out"] / "report.html"
    shot = page.parent / "gains.png"
    chromium(page, f"--screenshot={shot}", "--window-size=1400,3000")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
