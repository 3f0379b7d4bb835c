"""Evaluations written as `bioharness eval` writes them (metrics.json + samples.jsonl), with
chosen per-sample results, for tests of compare and the report that need exact numbers (a
significant gain and one that is noise) rather than a model's."""
import json

from test_evaluate import TOY_PLUGIN, TOY_TASK

from bioharness.manager import load_plugins


def toy_manager(folder, tasks=(("colours", "qa"),)):
    """A plugin manager with the toy task kind and one toy task per (name, category)."""
    plugin = folder / "toy_plugin.py"
    plugin.write_text(TOY_PLUGIN)
    (folder / "toy_tasks").mkdir(exist_ok=True)
    for name, category in tasks:
        (folder / "toy_tasks" / f"{name}.yaml").write_text(
            TOY_TASK.replace("name: colours", f"name: {name}").replace("category: qa", f"category: {category}"))
    return load_plugins([str(plugin)], env={}), str(plugin)


def write_measured(out, model, task, correct, category="qa", shots=0, scoring="loglikelihood", slug=None):
    """``<out>/eval/<slug>/<task>/``: one sample per entry of ``correct`` (1 right, 0 wrong)."""
    folder = out / "eval" / (slug or model.replace(":", "_").replace("/", "_")) / task
    folder.mkdir(parents=True)
    rows = [{"id": f"s{i}", "values": {"correct": float(c)}} for i, c in enumerate(correct)]
    (folder / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    value = sum(correct) / len(correct)
    (folder / "metrics.json").write_text(json.dumps({
        "task": task, "category": category, "kind": "toy", "model": model, "n": len(correct), "headline": "accuracy",
        "metrics": {"accuracy": {"value": value, "ci95": [0.0, 1.0]}},
        "setting": {"num_fewshot": shots, "scoring": scoring}}))
    return folder
