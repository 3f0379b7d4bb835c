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
