"""The ``bionlp`` plugin: the task kinds ``mcqa``, ``ner``, ``re`` and ``summarization``,
readers of generic formats (``conll``, ``pubtator``, ``bioc``, ``jsonl``, ``json``, ``csv``,
``tsv``, ``xlsx``, ``hf``) and of the BioNLP datasets, their metrics and the LLM judge.

The built-in task catalogue (the top-level ``tasks/`` folder, shipped as the package data
``bioharness.tasks``: every built-in task spec and, in ``tasks/datasets/``, the dataset
manifests) is this plugin's ``task_dirs()``: its specs name this plugin's kinds and readers.
Importing it is cheap: the kinds (and rouge-score, openpyxl) are imported when a task is built.
"""
from pathlib import Path

from bioharness import hookimpl

DESCRIPTIONS = {
    "mcqa": "multiple choice / yes-no-maybe QA: log-likelihood (lm-eval style) or generate+parse; accuracy, macro-F1",
    "ner": "entity mentions listed by the model vs IOB2 gold; micro P/R/F1, strict and lenient",
    "re": "relation label of a marked entity pair; micro-F1 over positive classes (BLURB), per-class F1",
    "summarization": "free-text generation; ROUGE-1/2/L, and the LLM judge when --judge is given",
}


def _factory(name):
    def build():
        from bioharness.plugins.bionlp.kinds import KINDS

        return KINDS[name]()

    build.__name__ = f"build_{name}_kind"
    return build


@hookimpl
def register_task_kinds(register):
    for name, description in DESCRIPTIONS.items():
        register(name, _factory(name), description=description)


@hookimpl
def register_readers(register):
    from bioharness.plugins.bionlp.readers import all_readers

    for name, factory, description in all_readers():
        register(name, factory, description=description)


@hookimpl
def task_dirs():
    from importlib.resources import files

    return [Path(str(files("bioharness.tasks")))]
