"""Self-instruct generator for biomedical instructions (BioInstruct-style).

``bioharness generate --n N --model openai:gpt-4o [--base-url URL] [--concurrency C]
[--seeds FILE] --out RUN`` asks the model for new instructions, 3 random seeds per
request, and keeps the well-formed, doable, novel ones in ``RUN/instructions.jsonl``; a
killed run resumes. ``--import FILE`` takes an existing instruction set instead.

``seeds``: the curated seed pool (``seeds.jsonl``) and the loader for user pools.
``prompt``: the request prompt and the parser of the answers (the documented format).
``filters``: length, blacklist and leading-character filters.
``novelty``: the exact, indexed ROUGE-L novelty filter that keeps the generated pool diverse.
``generator``: the pipeline (waves of concurrent requests, commit records, resume, stats).

The model is any model spec, reached through ``bioharness.get_backend`` (the ``openai``
backend brings bounded concurrency and retries; ``hf``/``vllm``/``embedded`` run offline). Nothing heavy is
imported when this plugin loads.
"""
import click

from bioharness import CATEGORIES, hookimpl

from bioharness.plugins.selfinstruct.config import GenerateConfig

_D = GenerateConfig.__dataclass_fields__


def _default(name):
    return _D[name].default


OPTIONS = [
    # Not required=True for click: the option is shared by every generator's `generate`
    # command, and --import needs no target; the config insists instead.
    click.Option(["--n"], type=click.IntRange(min=1),
                 help="[required unless --import] Number of instructions to have in RUN/instructions.jsonl."),
    click.Option(["--model"], default=_default("model"), show_default=True,
                 help="Model spec of the generating (teacher) model: openai:<model>, hf:<path>, vllm:<path> or embedded."),
    click.Option(["--base-url"], help="Endpoint of the OpenAI-compatible server (default: $OPENAI_BASE_URL, "
                                      "else OpenAI). The key is read from $OPENAI_API_KEY."),
    click.Option(["--concurrency"], type=click.IntRange(min=1), default=_default("concurrency"), show_default=True,
                 help="Requests in flight at once."),
    click.Option(["--seeds"], type=click.Path(dir_okay=False, exists=True),
                 help="Seed pool (JSONL: id, instruction, input, output, category). Default: the 80 built-in seeds."),
    click.Option(["--seed"], type=int, default=_default("seed"), show_default=True,
                 help="Seed of the sampling of seed examples (request i shows the same seeds for the same --seed)."),
    click.Option(["--import", "import_path"], type=click.Path(dir_okay=False, exists=True),
                 help="Use an existing instruction set (JSON array or JSONL with instruction, input, output; "
                      "e.g. the released BioInstruct file) instead of generating; with --n, generate the rest."),
    click.Option(["--dedup/--no-dedup"], default=_default("dedup"), show_default=True,
                 help="Pass imported instructions through the novelty filter (against the seeds and each other)."),
    click.Option(["--temperature"], type=float, default=_default("temperature"), show_default=True,
                 help="Sampling temperature of the generating model."),
    click.Option(["--max-tokens"], type=click.IntRange(min=16), default=_default("max_tokens"), show_default=True,
                 help="Longest answer per request, in tokens."),
    click.Option(["--per-request"], type=click.IntRange(min=1), default=_default("per_request"), show_default=True,
                 help="New instructions asked for in each request."),
    click.Option(["--threshold"], type=click.FloatRange(0.0, 1.0), default=_default("threshold"), show_default=True,
                 help="Novelty: reject an instruction whose ROUGE-L F1 against any instruction in the pool "
                      "(seeds included) exceeds this."),
    click.Option(["--min-words"], type=click.IntRange(min=1), default=_default("min_words"), show_default=True,
                 help="Shortest instruction kept, in words."),
    click.Option(["--max-words"], type=click.IntRange(min=1), default=_default("max_words"), show_default=True,
                 help="Longest instruction kept, in words."),
    click.Option(["--default-category"], type=click.Choice(CATEGORIES),
                 help="Category of generated items that give none (default: such items are dropped)."),
    click.Option(["--max-requests"], type=click.IntRange(min=1),
                 help="Send at most this many requests in this invocation (the run can be continued later)."),
    click.Option(["--model-args"], help="More options for the openai backend: key=value,key=value "
                                        "(e.g. timeout, retries)."),
]


def _factory(**options):
    config = GenerateConfig.from_options(**options)  # bad settings fail here, before anything runs
    from bioharness.plugins.selfinstruct.generator import SelfInstructGenerator

    return SelfInstructGenerator(config)


@hookimpl
def register_generators(register):
    register(
        "selfinstruct",
        _factory,
        description="Self-instruct with any teacher model: 3 seeds per request, ROUGE-L novelty filter, "
                    "resumable",
        options=OPTIONS,
        inputs={"seeds": "seeds", "import_path": "instructions"},
        outputs={"instructions": "instructions.jsonl"},
    )
