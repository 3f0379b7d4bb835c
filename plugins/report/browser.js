// The sample browser of report.html: plain JS over the JSON embedded in the page.
// Filters: task, model, correct/incorrect, "models disagree", text search; the URL
// fragment (#task=T&model=M&correct=incorrect&disagree=1&q=text) sets them on load.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var f = {task: $("f-task"), model: $("f-model"), correct: $("f-correct"), disagree: $("f-disagree"), q: $("f-q")};
  var body = document.querySelector("#samples tbody");
  var PAGE = 200, shown = PAGE;

  function option(select, value, label) {
    var o = document.createElement("option");
    o.value = value; o.textContent = label; select.appendChild(o);
  }
  data.tasks.forEach(function (t) { option(f.task, t, t); });
  data.models.forEach(function (m, i) { option(f.model, String(i), m); });

  function readHash() {
    var params = new URLSearchParams(location.hash.replace(/^#/, ""));
    if (params.has("task")) f.task.value = params.get("task");
    if (params.has("model")) {
      var i = data.models.indexOf(params.get("model"));
      f.model.value = i >= 0 ? String(i) : params.get("model");
    }
    if (params.has("correct")) f.correct.value = params.get("correct");
    f.disagree.checked = params.get("disagree") === "1";
    if (params.has("q")) f.q.value = params.get("q");
  }

  function writeHash() {
    var params = new URLSearchParams();
    if (f.task.value) params.set("task", f.task.value);
    if (f.model.value) params.set("model", data.models[+f.model.value]);
    if (f.correct.value) params.set("correct", f.correct.value);
    if (f.disagree.checked) params.set("disagree", "1");
    if (f.q.value) params.set("q", f.q.value);
    var text = params.toString();
    if (text !== location.hash.replace(/^#/, "")) history.replaceState(null, "", text ? "#" + text : location.pathname);
  }

  function matches(s) {
    if (f.task.value && s.t !== f.task.value) return false;
    if (f.model.value && String(s.m) !== f.model.value) return false;
    if (f.correct.value === "correct" && s.c !== true) return false;
    if (f.correct.value === "incorrect" && s.c !== false) return false;
    if (f.disagree.checked && !s.d) return false;
    var q = f.q.value.trim().toLowerCase();
    if (q) {
      var hay = (s.id + "\n" + s.p + "\n" + s.r + "\n" + s["in"] + "\n" + s.o).toLowerCase();
      if (hay.indexOf(q) < 0) return false;
    }
    return true;
  }

  function cell(row, text, cls) {
    var td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    row.appendChild(td);
    return td;
  }

  function detail(s) {
    var tr = document.createElement("tr"), td = document.createElement("td");
    tr.className = "detail"; td.colSpan = 6;
    [["prompt", s["in"]], ["output", s.o], ["scores", JSON.stringify(s.v)]].forEach(function (part) {
      var h = document.createElement("h4"), pre = document.createElement("pre");
      h.textContent = part[0]; pre.textContent = part[1];
      td.appendChild(h); td.appendChild(pre);
    });
    tr.appendChild(td);
    return tr;
  }

  function render() {
    var hits = data.samples.filter(matches);
    body.textContent = "";
    hits.slice(0, shown).forEach(function (s) {
      var tr = document.createElement("tr");
      tr.className = "sample";
      tr.dataset.task = s.t; tr.dataset.model = data.models[s.m];
      tr.dataset.correct = s.c === null ? "n/a" : String(s.c);
      cell(tr, s.t); cell(tr, data.models[s.m]); cell(tr, s.id);
      cell(tr, s.c === null ? "n/a" : s.c ? "correct" : "incorrect", s.c === null ? "na" : s.c ? "pos" : "neg");
      cell(tr, s.p); cell(tr, s.r);
      tr.addEventListener("click", function () {
        var next = tr.nextSibling;
        if (next && next.className === "detail") body.removeChild(next);
        else body.insertBefore(detail(s), next);
      });
      body.appendChild(tr);
    });
    $("count").textContent = "showing " + Math.min(shown, hits.length) + " of " + hits.length +
      " matching samples (" + data.samples.length + " in all; click a row for its prompt and output)";
    $("more").hidden = hits.length <= shown;
  }

  function changed() { shown = PAGE; writeHash(); render(); }
  [f.task, f.model, f.correct, f.disagree].forEach(function (el) { el.addEventListener("change", changed); });
  f.q.addEventListener("input", changed);
  $("more").addEventListener("click", function () { shown += PAGE; render(); });
  window.addEventListener("hashchange", function () { readHash(); shown = PAGE; render(); });
  readHash();
  render();
})();
