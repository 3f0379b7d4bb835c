"""The ``lmeval`` plugin: bioharness and EleutherAI's lm-evaluation-harness (lm-eval) both ways.

* the Open Medical-LLM Leaderboard's nine tasks as bioharness tasks with lm-eval 0.4.13's
  zero-shot prompts and log-likelihood scoring (``--tasks openmedllm``): their specs are in the
  task catalogue (``tasks/openmedllm_*.yaml``), the parity tests here;
* :mod:`.local`: lm-eval's own medical task definitions reading the local data files;
* :mod:`.bridge`: `bioharness eval --tasks lm_eval:<task>` runs them (or any lm-eval task, online)
  through lm-eval's evaluator on a bioharness backend;
* ``reported/*.yaml``: published results (other biomedical LLMs' scores, instruction-tuning
  results with and without tuning), each from a paper's table or a result file, through the
  ``reported_dirs`` hook (the evaluation plugin reads them: `bioharness zoo`, `compare`).

lm-eval is imported only when one of these runs.
"""
from pathlib import Path

from bioharness import hookimpl


@hookimpl
def run_prefixed_tasks(prefix, names, model, settings):
    """``--tasks lm_eval:<task>[,...]``: lm-eval's own tasks through its evaluator (see .bridge)."""
    if prefix != "lm_eval":
        return None
    from .bridge import run_lmeval

    return run_lmeval(names, model, out=settings.out, data_dir=settings.data_dir, limit=settings.limit,
                      backend_options=settings.backend_options, bootstrap=settings.bootstrap_resamples)


@hookimpl
def register_commands(cli):
    import click

    @cli.group("export")
    def export_group():
        """Write bioharness tasks in another harness's format."""

    @export_group.command("lm-eval")
    @click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder for the lm-eval task configs.")
    @click.option("--tasks", default="all", show_default=True, help="Task names, a category, a group or all.")
    @click.option("--data-dir", type=click.Path(file_okay=False, exists=True), envvar="BIOHARNESS_DATA",
                  help="The data the exported tasks read (default: $BIOHARNESS_DATA at lm-eval run time).")
    def export_lmeval(out, tasks, data_dir):
        """lm-eval task configs of bioharness tasks: run them with `lm_eval --include_path OUT`."""
        from .export import export

        manager = click.get_current_context().find_root().obj
        for name, notes in export(out, data_dir, tasks, getattr(manager, "hooks", None)):
            click.echo(f"{name}: " + ("; ".join(notes) if notes else "as in bioharness"))


@hookimpl
def reported_dirs():
    """The published results shipped with bioharness (``reported/*.yaml``): other biomedical
    LLMs' scores from their papers' tables, and instruction-tuning results with and without
    tuning (primary sources only; `bioharness zoo` shows them)."""
    return [Path(__file__).parent / "reported"]
