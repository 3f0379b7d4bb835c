"""`bioharness export lm-eval`: our tasks run by lm_eval itself give our metric."""
import json

import pytest
import yaml
from click.testing import CliRunner

from bioharness.cli import build_cli
from bioharness.manager import load_plugins
from bioharness.models import load_backend
from bioharness.taskspec import TaskCatalog

N = 20


@pytest.fixture(scope="module")
def exported(tmp_path_factory, data_dir):
    out = tmp_path_factory.mktemp("lm-eval-tasks")
    manager = load_plugins(env={})
    result = CliRunner().invoke(build_cli(manager), ["export", "lm-eval", "--out", str(out), "--data-dir",
                                                     str(data_dir)], obj=manager, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out, result.output


def test_every_task_is_written_and_what_differs_is_said(exported):
    out, text = exported
    lines = dict(line.split(": ", 1) for line in text.strip().splitlines())
    catalog = TaskCatalog(load_plugins(env={}).hooks)
    assert set(lines) == {f"bh_{n}" for n in catalog.specs}
    assert lines["bh_openmedllm_medqa"] == "as in bioharness"
    assert "--apply_chat_template" in lines["bh_ncbi_disease"]
    assert "judge is not exported" in lines["bh_meqsum"]
    ner = yaml.safe_load((out / "bh_ncbi_disease.yaml").read_text().replace("!function ", ""))
    assert ner["output_type"] == "generate_until" and ner["metric_list"][0]["metric"] == "f1_strict"
    assert (out / "utils.py").is_file()


@pytest.mark.parametrize("task", ["openmedllm_medqa", "pubmedqa"])
def test_lm_eval_runs_the_exported_task_and_reproduces_our_metric(task, exported, tiny_llama_dir, data_dir):
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    out, _ = exported
    result = simple_evaluate(model="hf", model_args={"pretrained": str(tiny_llama_dir), "dtype": "float32"},
                             device="cpu", batch_size=8, tasks=[f"bh_{task}"],
                             task_manager=TaskManager(include_path=str(out)), limit=N, log_samples=True,
                             bootstrap_iters=0)
    theirs = result["results"][f"bh_{task}"]["acc,none"]
    catalog = TaskCatalog(load_plugins(env={}).hooks)
    spec = catalog.specs[task]
    kind = catalog.kind(spec.kind)
    examples = kind.load(spec, data_dir, spec.split)[:N]
    requests = [kind.requests(spec, e, []) for e in examples]
    backend = load_backend(load_plugins(env={}).hooks, f"hf:{tiny_llama_dir}", dtype="float32", device="cpu")
    try:
        flat = backend.loglikelihood([r for reqs in requests for r in reqs])
    finally:
        backend.close()
    outputs, pos = [], 0
    for reqs in requests:
        outputs.append(flat[pos : pos + len(reqs)])
        pos += len(reqs)
    scores = kind.score(spec, examples, outputs)
    sums = {"correct": sum(s.values["correct"] for s in scores)}
    ours = kind.metrics(spec, sums, N)["accuracy"]
    assert theirs == pytest.approx(ours, abs=1e-12)
    # sample by sample: the same documents, the same prompt
    samples = sorted(result["samples"][f"bh_{task}"], key=lambda s: s["doc_id"])
    assert [s["doc"]["id"] for s in samples] == [str(e.id) for e in examples]
    assert [json.loads(json.dumps(s["arguments"][0][0])) for s in samples] == [r[0].context for r in requests]
