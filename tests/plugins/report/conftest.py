"""A run folder evaluated for real: two tiny Llamas on a toy QA task (log-likelihood) and a
toy generation task, compared, with a decontamination report from the real command."""
import json

import pytest
from click.testing import CliRunner

from bioharness.cli import build_cli, main
from bioharness.instructions import write_instructions
from bioharness.manager import load_plugins
from bioharness.records import Instruction
from test_evaluate import TOY_PLUGIN, TOY_TASK
from tinymodels import build_tiny_llama


@pytest.fixture(scope="package")
def report_run(tokenizer, tiny_llama_dir, tmp_path_factory, data_dir):
    root = tmp_path_factory.mktemp("report-run")
    other = root / "tiny-llama-b"
    build_tiny_llama(tokenizer, seed=7).save_pretrained(other)
    tokenizer.save_pretrained(other)
    base, tuned = f"hf:{tiny_llama_dir}", f"hf:{other}"
    plugin = root / "toy_plugin.py"
    plugin.write_text(TOY_PLUGIN)
    (root / "toy_tasks").mkdir()
    (root / "toy_tasks" / "colours.yaml").write_text(TOY_TASK)
    (root / "toy_tasks" / "colours_gen.yaml").write_text(
        TOY_TASK.replace("name: colours", "name: colours_gen").replace("loglikelihood", "generate")
        .replace("category: qa", "category: gen"))
    manager = load_plugins([str(plugin)], env={})
    out = root / "run"
    for model in (base, tuned):
        result = CliRunner().invoke(build_cli(manager), ["eval", "--model", model, "--tasks", "colours,colours_gen",
                                                         "--out", str(out)], obj=manager, catch_exceptions=False)
        assert result.exit_code == 0, result.output
    result = CliRunner().invoke(build_cli(manager), ["compare", "--out", str(out), "--baseline", base],
                                obj=manager, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    # a decontamination report, as `bioharness decontaminate` writes it: one instruction
    # copies a GAD test sentence
    gad = (data_dir / "gad" / "test_blurb.jsonl").read_text().splitlines()[3]
    sentence = json.loads(gad)["text"]
    instructions = root / "instructions.jsonl"
    write_instructions(instructions, [Instruction(id="copied", instruction="Is there a relation?", input=sentence,
                                                  output="yes", category="ie"),
                                      Instruction(id="fresh", instruction="Name a colour.", input="", output="red")])
    assert main(["decontaminate", str(instructions), "--tasks", "gad", "--out", str(out / "instructions" / "kept.jsonl"),
                 "--data-dir", str(data_dir)]) == 0
    return {"out": out, "base": base, "tuned": tuned, "manager": manager, "plugin": str(plugin)}


def results(n, right, lose, gain):
    """Per-sample results (1 right, 0 wrong) of a model compared with a base that is right on the
    first ``right`` of ``n`` samples: ``lose`` of those turn wrong, ``gain`` of the others right."""
    return [int((i < right and i >= lose) or (right <= i < right + gain)) for i in range(n)]


# (lose, gain) per task category for each model, against a base right on 16 (qa) and 20 (ie, gen)
# of 40: a gain whose CI excludes 0 and gains that are noise, in every row of the transfer matrix
ABLATION = {
    "tuned": {"qa": (2, 18), "ie": (2, 4), "gen": (12, 2)},
    "tuned-qa": {"qa": (2, 14), "ie": (3, 3), "gen": (3, 3)},
    "tuned-ie": {"qa": (3, 4), "ie": (0, 12), "gen": (4, 2)},
    "tuned-gen": {"qa": (2, 2), "ie": (2, 3), "gen": (0, 10)},
}
BASE_RIGHT = {"qa": 16, "ie": 20, "gen": 20}


@pytest.fixture(scope="package")
def gains_run(tmp_path_factory):
    """A category ablation as `bioharness run --ablate-categories` leaves it (base, tuned on all,
    on qa, ie and gen only; one task per category, 40 samples each), with chosen per-sample
    results, compared by the real compare stage (paired bootstrap, gains per category with
    CIs, transfer matrix, names) and reported: exact numbers for the report's colours."""
    from bioharness.plugins.report import write_reports
    from measured import toy_manager, write_measured

    root = tmp_path_factory.mktemp("gains-run")
    tasks = {"qa": "colours", "ie": "colours_ie", "gen": "colours_gen"}
    manager, plugin = toy_manager(root, [(task, category) for category, task in tasks.items()])
    out = root / "run"
    specs = {"base": "hf:tiny-base", **{name: f"hf:tiny-base+{out}/train-{name}/adapter" for name in ABLATION}}
    for category, task in tasks.items():
        write_measured(out, specs["base"], task, results(40, BASE_RIGHT[category], 0, 0), category, slug="base")
        for name, changes in ABLATION.items():
            write_measured(out, specs[name], task, results(40, BASE_RIGHT[category], *changes[category]), category,
                           slug=name)
    transfer = {"all" if name == "tuned" else name.split("-")[1]: spec for name, spec in specs.items() if name != "base"}
    board = manager.hooks.stage("compare")(out=out, baseline=specs["base"], models=list(specs.values()),
                                           transfer=transfer, say=lambda *a: None,
                                           labels={spec: name for name, spec in specs.items()})
    write_reports(out, board, hooks=manager.hooks)
    return {"out": out, "board": board, "specs": specs, "manager": manager, "plugin": plugin}
