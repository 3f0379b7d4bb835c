"""The ``lmeval`` plugin: bioharness and EleutherAI's lm-evaluation-harness (lm-eval) both ways.

* the Open Medical-LLM Leaderboard's nine tasks as bioharness tasks with lm-eval 0.4.13's
  zero-shot prompts and log-likelihood scoring (``--tasks openmedllm``): their specs are in the
  task catalogue (``tasks/openmedllm_*.yaml``), the parity tests here;
* :mod:`.local`: lm-eval's own medical task definitions reading the local data files;
* :mod:`.bridge`: `bioharness eval --tasks lm_eval:<task>` runs them (or any lm-eval task, online)
  through lm-eval's evaluator on a bioharness backend.

lm-eval is imported only when one of these runs.
"""
from bioharness import UsageError, hookimpl


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

    @cli.command("zoo")
    @click.option("--model", "name", help="One model's reported scores, with sources.")
    def zoo(name):
        """Well-known biomedical LLMs and their published scores on our tasks ("reported")."""
        from rich.console import Console
        from rich.markup import escape
        from rich.table import Table

        from .zoo import registry, reported_rows

        models = registry()["models"]
        if name is None:
            table = Table(title="zoo: reported, not measured")
            for column in ("model", "hub id", "base", "prompt format", "licence", "scores"):
                table.add_column(column)
            for m in models:
                table.add_row(*(escape(str(m[k])) for k in ("name", "hub", "base", "prompt_format", "licence")),
                              str(sum(len(s) - 3 for s in m.get("scores", ()))))
            Console(width=200).print(table)
            return
        if name not in {m["name"] for m in models}:
            raise UsageError(f"no model {name!r} in the zoo (known: {', '.join(m['name'] for m in models)})")
        for row in reported_rows():
            if row["model"] == name and not row["task"].startswith("lm_eval:"):
                shots = "shots ?" if row["shots"] is None else f"{row['shots']}-shot {row['scoring']}, {row['harness']}"
                click.echo(f"{row['task']}: {row['value']:.3f} [{row['status']}; {shots}] {row['source']}")


@hookimpl
def reported_scores(board):
    """The zoo's published scores for the board's tasks (see .zoo)."""
    from .zoo import place

    return place(board)
