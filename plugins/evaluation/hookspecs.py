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
    """Published scores a plugin computes itself for the tasks on a ``compare`` board
    (``board["tasks"]``); a plugin with a table to add ships a file instead (``reported_dirs``).
    Return a list of dicts with model, task, metric, value, shots, scoring, harness, source
    (its key), cite, kind, where, url, checked, and ``beside`` (the setting is that of the
    measured rows) with ``difference`` (why not). Compare shows them marked "reported", never
    in a measured cell, a paired difference or a gain.
    """


@hookspec
def reported_dirs():
    """Folders of reported files (published results in the YAML format of the README's
    "Published results": one file per paper table, result file or abstract): return a list of
    paths; every ``*.yaml`` in them is read by ``compare``, ``bioharness zoo`` and the report,
    checked key by key, and shown as "reported", never as measured.
    """
