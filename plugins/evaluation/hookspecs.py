"""Hooks the ``evaluation`` plugin declares (through ``add_hookspecs``) and calls."""
from bioharness import hookspec


@hookspec(firstresult=True)
def run_prefixed_tasks(prefix, names, model, settings):
    """Evaluate tasks that a plugin runs itself, named ``<prefix>:<name>`` in ``--tasks``
    (``lm_eval:medqa_4options``): write ``<out>/eval/<model>/<task>/`` samples.jsonl and
    metrics.json as the ``eval`` stage does, and return the metrics.json dicts; return
    None when ``prefix`` is not this plugin's. ``settings`` is an ``EvalSettings``.
    """


@hookspec
def reported_scores(board):
    """Published scores for the tasks on a ``compare`` board (``board["tasks"]``): a list of
    dicts with model, task, metric, value, shots, scoring, harness, status, source, and
    ``beside`` (the setting is that of the measured rows) with ``difference`` (why not).
    Compare shows them marked "reported", never in a measured cell, baseline or gain.
    """
