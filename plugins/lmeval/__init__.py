"""The ``lmeval`` plugin: bioharness and EleutherAI's lm-evaluation-harness (lm-eval) both ways.

* ``tasks/openmedllm_*.yaml``: the Open Medical-LLM Leaderboard's nine tasks as bioharness
  tasks with lm-eval 0.4.13's zero-shot prompts and log-likelihood scoring
  (``--tasks openmedllm``);
* :mod:`.local`: lm-eval's own medical task definitions reading the local data files;
* :mod:`.bridge`: `bioharness eval --tasks lm_eval:<task>` runs them (or any lm-eval task, online)
  through lm-eval's evaluator on a bioharness backend.

lm-eval is imported only when one of these runs.
"""
from pathlib import Path

from bioharness import hookimpl


@hookimpl
def task_dirs():
    return [Path(__file__).parent / "tasks"]


@hookimpl
def run_prefixed_tasks(prefix, names, model, settings):
    """``--tasks lm_eval:<task>[,...]``: lm-eval's own tasks through its evaluator (see .bridge)."""
    if prefix != "lm_eval":
        return None
    from .bridge import run_lmeval

    return run_lmeval(names, model, out=settings.out, data_dir=settings.data_dir, limit=settings.limit,
                      backend_options=settings.backend_options, bootstrap=settings.bootstrap_resamples)
