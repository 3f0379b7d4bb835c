"""The zoo: the published results shipped with bioharness (``plugins/lmeval/reported``), each from
a primary source (a paper's table or a result file, never a tracker), every row mapped to a
bioharness task or saying why not, and `bioharness zoo` as a models x tasks table."""
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bioharness.cli import build_cli
from bioharness.manager import load_plugins
from bioharness.plugins.evaluation.reported import gain_rows, load_all, task_rows
from bioharness.taskspec import TaskCatalog

PRIMARY = {"table", "result-file"}


@pytest.fixture(scope="module")
def shipped():
    manager = load_plugins(env={})
    catalog = TaskCatalog(manager.hooks)
    loaded = load_all(manager.hooks, tasks=set(catalog.specs))
    return {"manager": manager, "catalog": catalog, "loaded": loaded,
            "values": [r for d in loaded for r in task_rows(d)], "gains": [g for d in loaded for g in gain_rows(d)]}


def test_every_zoo_score_names_a_primary_source_and_how_it_was_checked(shipped):
    """A score without a paper's table or a result file behind it (an issue tracker, a blog, a
    number handed over) fails here."""
    assert {Path(d["path"]).parent.name for d in shipped["loaded"]} == {"reported"}
    assert len(shipped["values"]) > 200
    for row in shipped["values"]:
        assert row["kind"] in PRIMARY, row
        assert row["url"].startswith("https://") and not any(t in row["url"] for t in ("/issues/", "/pull/"))
        if row["kind"] == "table":
            assert row["where"].startswith("Table ") and "/tables/" in row["url"]
        assert row["checked"].startswith("20") and len(row["checked"].split()) >= 8  # when, and how
        assert 0 <= row["value"] <= 1  # fractions (a table in percent says scale: 100)
    assert "issue13" not in {d["source"]["key"] for d in shipped["loaded"]}
    # headline gains only may come from an abstract, and say so
    assert {(g["source"], g["kind"]) for g in shipped["gains"]} == {("tran2024", "abstract")}
    assert all("abstract" in g["where"] and g["checked"] for g in shipped["gains"])


def test_every_reported_row_maps_to_a_task_or_says_why_not(shipped):
    catalog = shipped["catalog"]
    for row in shipped["values"]:
        if row["task"] is None:
            assert row["not_comparable"], row
        elif ":" in row["task"]:
            assert row["task"].startswith("lm_eval:")  # lm-eval's own task, run by the lmeval plugin
        else:
            spec = catalog.specs[row["task"]]
            assert row["metric"] in spec.metrics, row
    for gain in shipped["gains"]:
        assert gain["category"] in ("qa", "ie", "gen") and gain["not_comparable"]


def test_the_figures_are_those_of_their_tables(shipped):
    """Spot checks against the sources (the whole files were compared cell by cell, see `checked`)."""
    value = {(r["source"], r["model"], r["task"], r["metric"]): r["value"] for r in shipped["values"]}
    # Qiu et al. 2024, Table 3 (percent): BioMistral 7B's MedQA is 50.6, not the 46.1 once cited from a tracker
    assert value[("qiu2024", "BioMistral 7B", "medqa", "accuracy")] == pytest.approx(0.506)
    assert value[("qiu2024", "Mistral 7B", "openmedllm_mmlu_college_medicine", "accuracy")] == pytest.approx(0.595)
    assert ("qiu2024", "PMC-LLaMA 13B", "openmedllm_mmlu_anatomy", "accuracy") not in value  # '-' in the table
    # Xie et al. 2025 (Me-LLaMA), Table 3: LLaMA2 13B without and with instruction tuning
    assert value[("xie2025", "LLaMA2 13B", "pubmedqa", "accuracy")] == 0.216
    assert value[("xie2025", "LLaMA2 13B-instruct", "pubmedqa", "accuracy")] == 0.436
    assert value[("xie2025", "Me-LLaMA-70B-chat", "ddi2013", "macro_f1")] == 0.283
    cells = [r for r in shipped["values"] if r["source"] == "xie2025"]
    assert len({(r["model"], r["dataset"], r["source_metric"]) for r in cells}) == 8 * 18  # every cell of the table
    # BioInstruct's abstract
    assert {g["category"]: g["gain"] for g in shipped["gains"]} == {"qa": 0.173, "ie": 0.057, "gen": 0.96}


def invoke(manager, *args):
    return CliRunner().invoke(build_cli(manager), list(args), obj=manager, catch_exceptions=False)


def test_zoo_prints_models_by_tasks_with_the_source_in_each_cell(shipped):
    manager = shipped["manager"]
    result = invoke(manager, "zoo")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    header = next(x for x in lines if "model" in x and "medqa" in x)
    for task in ("medqa", "medmcqa", "pubmedqa", "ddi2013"):
        assert f" {task} " in header
    biomistral = next(x for x in lines if x.startswith("│ BioMistral 7B "))
    assert "0.506 qiu2024" in biomistral and "0.775 qiu2024" in biomistral
    llama = next(x for x in lines if x.startswith("│ LLaMA2 13B "))
    assert "0.216 xie2025" in llama and "0.035 xie2025" in llama  # PubMedQA accuracy, DDI macro-F1
    assert "map to no bioharness task" in result.output and "HoC Macro-F1" in result.output
    assert "  gen: +96.0% average GPT-4 score [tran2024]" in result.output  # headline gains below
    for key in ("qiu2024", "xie2025", "tran2024"):  # the legend: every source, its setting and check
        assert f"  {key}: " in result.output
    assert "checked: 2026-12-06" in result.output

    from bioharness.plugins.evaluation.zoo import zoo

    columns = zoo(shipped["loaded"], shipped["catalog"])["tasks"]  # a metric other than the task's headline: its own column
    assert columns[:3] == ["medqa", "medmcqa", "pubmedqa"] and columns[-2:] == ["pubmedqa (macro_f1)", "ddi2013 (macro_f1)"]
    medqa = invoke(manager, "zoo", "--task", "medqa").output
    header = next(x for x in medqa.splitlines() if "model" in x)
    assert "medqa" in header and "pubmedqa" not in header and "medmcqa" not in header
    rows = [x for x in medqa.splitlines() if x.startswith("│ ") and "model" not in x]
    assert len(rows) == 12 + 8  # Qiu's twelve models, Me-LLaMA's eight
    assert any("MMed-Llama 3 8B" in x and "0.654 qiu2024" in x for x in rows)
    assert "  qa: +17.3% average accuracy [tran2024]" in medqa and "ie:" not in medqa

    found = json.loads(invoke(manager, "zoo", "--model", "BioMistral 7B", "--json").output)
    assert {v["task"] for v in found["values"]} >= {"medqa", "openmedllm_medqa", "lm_eval:medqa_4options"}
    assert found["models"]["BioMistral 7B"]["hub"] == "BioMistral/BioMistral-7B" and not found["gains"]


def test_zoo_errors_are_one_line():
    manager = load_plugins(env={})
    result = CliRunner().invoke(build_cli(manager), ["zoo", "--model", "nope"], obj=manager)
    assert "no model 'nope' in the zoo (known: GPT-3.5, GPT-4" in str(result.exception)  # main(): exit 2
    result = CliRunner().invoke(build_cli(manager), ["zoo", "--task", "nope"], obj=manager)
    assert "unknown task 'nope'" in str(result.exception)
