"""``bioharness export lm-eval --out DIR``: bioharness tasks as lm-eval task configs.

Every task becomes ``DIR/bh_<task>.yaml`` (lm-eval task ``bh_<task>``, all of them in the tag
``bioharness``), run with ``lm_eval --include_path DIR --tasks bh_<task>``. The documents
come from the same local files through bioharness's own readers (``custom_dataset`` in the
generated ``DIR/utils.py``, which imports bioharness: it must be installed where lm-eval
runs; the data directory is the one given at export, or ``BIOHARNESS_DATA``). Each
document carries the prompt exactly as bioharness renders it, so lm-eval adds nothing:

* ``mcqa`` scored by log-likelihood: lm-eval's ``multiple_choice`` (context, then a space
  and each answer), metric ``acc``, bioharness's ``accuracy``;
* every other task (generation: ``mcqa`` with ``scoring: generate``, ``ner``, ``re``,
  ``summarization``): ``generate_until`` with the spec's ``max_new_tokens`` and stop strings
  at temperature 0; ``process_results`` scores each answer with the task kind's own scorer
  and the aggregation computes the kind's metric from the summed per-sample values (so F1
  is micro/macro exactly as ours, not a mean of per-sample F1s).

What cannot be expressed is said per task (:func:`limits`): a ``chat: true`` prompt is only
the same when lm-eval is run with ``--apply_chat_template`` (and a system prompt with
``--system_instruction``); the LLM judge of summarization tasks is not exported (ROUGE only).
"""
from __future__ import annotations

import functools
import json
from pathlib import Path

import yaml

UTILS = '''"""Written by `bioharness export lm-eval`: the documents and scorers of bioharness tasks.
Needs bioharness (and its task plugins) installed where lm-eval runs."""
from bioharness.plugins.lmeval.export import aggregate, dataset, process_results  # noqa: F401
'''


@functools.lru_cache(maxsize=1)
def _catalog(hooks=None):
    """The task catalog (one per process: lm-eval calls the scorer once per document)."""
    from bioharness import TaskCatalog, load_plugins

    return TaskCatalog(hooks or load_plugins().hooks)


def is_multiple_choice(spec, kind) -> bool:
    return spec.kind == "mcqa" and kind.scoring(spec) == "loglikelihood"


def limits(spec, kind) -> list[str]:
    """Why the exported task is not exactly the bioharness task, if it is not."""
    notes = []
    if not is_multiple_choice(spec, kind) and spec.prompt.get("chat", True):
        notes.append("chat prompt: run lm_eval with --apply_chat_template"
                     + (" --system_instruction (the spec's system prompt)" if spec.prompt.get("system") else ""))
    if spec.category == "gen":
        notes.append("the LLM judge is not exported (ROUGE only)")
    return notes


def task_config(spec, kind, data_dir) -> dict:
    headline = spec.metrics[0]
    config = {
        "task": f"bh_{spec.name}",
        "tag": ["bioharness"],
        "custom_dataset": None,  # replaced by the !function tag when written
        "dataset_kwargs": {"bioharness_task": spec.name, "data_dir": str(data_dir) if data_dir else None},
        "test_split": "test",
        "metadata": {"version": spec.version, "bioharness_prompt_hash": spec.prompt_hash()},
    }
    if is_multiple_choice(spec, kind):
        config.update(output_type="multiple_choice", doc_to_text="context", doc_to_choice="choices",
                      doc_to_target="target",
                      metric_list=[{"metric": "acc", "aggregation": "mean", "higher_is_better": True}])
    else:
        gen = spec.generation
        config.update(output_type="generate_until", doc_to_text="context", doc_to_target="reference",
                      process_results=None,
                      generation_kwargs={"until": list(gen.get("stop", ())),
                                         "max_gen_toks": int(gen.get("max_new_tokens", kind.default_max_new_tokens)),
                                         "do_sample": False, "temperature": 0.0},
                      metric_list=[{"metric": headline, "aggregation": None, "higher_is_better": True}])
    return config


def _dump(config) -> str:
    """YAML with lm-eval's ``!function utils.<name>`` tags where the config has None placeholders."""
    text = yaml.dump(config, Dumper=yaml.SafeDumper, sort_keys=False, allow_unicode=True)
    text = text.replace("custom_dataset: null", "custom_dataset: !function utils.dataset")
    text = text.replace("process_results: null", "process_results: !function utils.process_results")
    return text.replace("aggregation: null", "aggregation: !function utils.aggregate")


def export(out, data_dir=None, selector="all", hooks=None) -> list[tuple[str, list[str]]]:
    """Write the configs and utils.py into ``out``; returns (lm-eval task, limits) per task.
    ``all`` exports every task, the suites' tasks (openmedllm) included."""
    from bioharness import atomic_write_text

    catalog = _catalog(hooks)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "utils.py", UTILS)
    done = []
    for spec in list(catalog.specs.values()) if selector == "all" else catalog.select(selector):
        kind = catalog.kind(spec.kind)
        atomic_write_text(out / f"bh_{spec.name}.yaml", _dump(task_config(spec, kind, data_dir)))
        done.append((f"bh_{spec.name}", limits(spec, kind)))
    return done


# --- called by the generated utils.py inside lm-eval ------------------------------------


def dataset(bioharness_task=None, data_dir=None, **_metadata):
    """lm-eval ``custom_dataset``: ``{"test": Dataset}`` of one bioharness task's examples,
    each with the prompt bioharness sends (``context``)."""
    import datasets

    from bioharness import choose_shots

    catalog = _catalog()
    spec = catalog.specs[bioharness_task]
    kind = catalog.kind(spec.kind)
    examples = kind.load(spec, Path(data_dir) if data_dir else None, spec.split)
    shots = choose_shots(kind, spec, Path(data_dir) if data_dir else None)
    shot_ids = {s.id for s in shots}
    rows = []
    for example in examples:
        if example.id in shot_ids:
            continue
        request = kind.requests(spec, example, shots)
        row = {"id": str(example.id), "bioharness_task": spec.name, "example": json.dumps(example.to_dict())}
        if is_multiple_choice(spec, kind):
            keys = list(kind.answers(spec, example))
            row.update(context=request[0].context, choices=[r.continuation[1:] for r in request],
                       target=keys.index(example.reference), reference=str(example.reference))
        else:
            row.update(context=request[0].prompt, choices=[], target=-1, reference=json.dumps(example.reference))
        rows.append(row)
    return datasets.DatasetDict({"test": datasets.Dataset.from_list(rows)})


def process_results(doc, results):
    """One generated answer scored by the task kind's own scorer: the per-sample values."""
    from bioharness import Example, Prediction

    catalog = _catalog()
    spec = catalog.specs[doc["bioharness_task"]]
    kind = catalog.kind(spec.kind)
    example = Example.from_dict(json.loads(doc["example"]))
    [score] = kind.score(spec, [example], [[Prediction(id=str(example.id), text=results[0])]], None)
    return {spec.metrics[0]: (spec.name, dict(score.values))}


def aggregate(items):
    """The kind's metric from the summed per-sample values (as ``bioharness eval`` computes it)."""
    catalog = _catalog()
    spec = catalog.specs[items[0][0]]
    sums = {}
    for _, values in items:
        for key, value in values.items():
            sums[key] = sums.get(key, 0.0) + value
    return catalog.kind(spec.kind).metrics(spec, sums, len(items))[spec.metrics[0]]
