"""``bioharness decontaminate``: drop (or flag) instructions that overlap the tasks' test and dev data."""
import click

from bioharness.cli import data_dir_option, fetch_task_data, get_manager, no_fetch_option, plugins_option


@click.command("decontaminate")
@click.argument("instructions", type=click.Path(dir_okay=False))
@click.option("--tasks", default="all", show_default=True, help="Task names (comma-separated), or qa, ie, gen, all.")
@click.option("--n", "n", type=click.IntRange(min=1), default=13, show_default=True,
              help="Length of the shared word n-gram that counts as overlap.")
@click.option("--contamination", type=click.Choice(["drop", "keep"]), default="drop", show_default=True,
              help="drop: leave overlapping instructions out; keep: keep them, flagged in provenance.")
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="Where to write the kept instructions (JSONL).")
@click.option("--report", "report_path", type=click.Path(dir_okay=False),
              help="Where to write the report [default: decontamination.json beside --out].")
@data_dir_option
@no_fetch_option
@plugins_option
def decontaminate_command(instructions, tasks, n, contamination, out, report_path, data_dir, no_fetch):
    """Check INSTRUCTIONS (JSON or JSONL) against the test and dev data of the tasks: an
    instruction sharing an N-gram (lowercased, punctuation deleted) with an example overlaps it."""
    from pathlib import Path

    from bioharness import TaskCatalog, atomic_write_json, read_instructions, write_instructions

    records = read_instructions(instructions)
    fetch_task_data(TaskCatalog(get_manager().hooks).select(tasks), data_dir, no_fetch)
    kept, report = get_manager().hooks.stage("decontaminate")(
        instructions=records, tasks=[tasks], n=n, mode=contamination, data_dir=Path(data_dir) if data_dir else None)
    report["source"] = str(instructions)
    write_instructions(out, kept)
    report_path = Path(report_path) if report_path else Path(out).with_name("decontamination.json")
    atomic_write_json(report_path, report, sort_keys=False)
    for task, row in report["tasks"].items():
        if row["instructions"]:
            click.echo(f"{task}: {row['instructions']} instruction(s) overlap {row['examples_overlapping']} "
                       f"of {row['examples']} examples")
    verb = "dropped" if contamination == "drop" else "kept and flagged"
    click.echo(f"{report['overlapping']} of {report['instructions']} instructions overlap the test/dev data "
               f"({n}-grams) and were {verb}; {len(kept)} written to {out}; report: {report_path}")
