"""``bioharness tasks NAME --examples N``: what a task's reader made of its files, and the
prompt its kind builds from the first example, so a plugin author sees both before any
model runs."""
import json

import click

from bioharness import choose_shots, load_examples


def _shown(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _indented(text, prefix="    ") -> str:
    return "\n".join(prefix + line for line in str(text).splitlines() or [""])


def show_examples(catalog, spec, data_dir, n, as_json=False):
    kind = catalog.kind(spec.kind)
    examples = load_examples(kind, spec, data_dir, spec.split)
    shots = choose_shots(kind, spec, data_dir)
    first = examples[:n]
    requests = kind.requests(spec, first[0], shots)
    if as_json:
        click.echo(json.dumps({
            "task": spec.name, "split": spec.split, "reader": spec.data["reader"], "kind": spec.kind,
            "examples_in_split": len(examples), "examples": [e.to_dict() for e in first],
            "prompt": {"example": first[0].id, "shots": [s.id for s in shots], "chat": spec.prompt.get("chat", True),
                       "requests": [{"type": type(r).__name__, **r.to_dict()} for r in requests]},
        }, indent=2, ensure_ascii=False))
        return
    click.echo(f"{spec.name}: {len(examples):,} examples in split {spec.split!r} (reader {spec.data['reader']}, kind "
               f"{spec.kind}); the first {len(first)}:")
    for number, example in enumerate(first, 1):
        record = example.to_dict()
        click.echo(f"\n[{number}] id {example.id}")
        for key, value in record["inputs"].items():
            click.echo(f"  {key}:\n{_indented(_shown(value))}")
        click.echo(f"  reference:\n{_indented(_shown(record['reference']))}")
        if record["meta"]:
            click.echo(f"  meta: {_shown(record['meta'])}")
    shot_note = f", after {len(shots)} shot(s): {', '.join(s.id for s in shots)}" if shots else ""
    wrap = ("wrapped in the model's chat template when it has one" if spec.prompt.get("chat", True)
            else "sent as raw text")
    click.echo(f"\nprompt of {first[0].id} ({len(requests)} request(s){shot_note}):")
    texts = [r for r in requests if hasattr(r, "prompt")]
    scored = [r for r in requests if hasattr(r, "continuation")]
    for request in texts:
        if request.system:
            click.echo(f"  system:\n{_indented(request.system)}")
        click.echo(f"  prompt ({wrap}):\n{_indented(request.prompt)}")
    contexts = list(dict.fromkeys(r.context for r in scored))
    for context in contexts:
        click.echo(f"  context (raw text, scored without a chat template):\n{_indented(context)}")
        continuations = [r.continuation for r in scored if r.context == context]
        click.echo(f"  continuations scored: {', '.join(json.dumps(c, ensure_ascii=False) for c in continuations)}")
