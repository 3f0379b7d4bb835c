"""The ``lmeval`` plugin: bioharness and EleutherAI's lm-evaluation-harness (lm-eval) both ways.

* ``tasks/openmedllm_*.yaml``: the Open Medical-LLM Leaderboard's nine tasks as bioharness
  tasks with lm-eval 0.4.13's zero-shot prompts and log-likelihood scoring
  (``--tasks openmedllm``);
* :mod:`.local`: lm-eval's own medical task definitions reading the local data files.

lm-eval is imported only when one of these runs.
"""
from pathlib import Path

from bioharness import hookimpl


@hookimpl
def task_dirs():
    return [Path(__file__).parent / "tasks"]
