"""Decontamination of 25,000 instructions against the test and dev data of every task:
``bioharness.plugins.decontam`` against lm-eval's own n-gram ``Janitor`` (Python mode; its C++
module is not built by pip).

Instructions come from ``benchmarks/biomed_instructions.py`` (fixed seed); every 100th one
gets a passage copied from an evaluation example (varying task), so both tools have
overlaps to find. Both read the same texts (``bioharness.task_texts``: every task's test
split and its dev split). The peer registers every text with
``Janitor.register_contaminant_python`` and checks each instruction's normalised 13-grams
against its set (``word_ngrams`` over ``normalize_string``); its verdicts must equal ours.

    BIOHARNESS_DATA=../shared/data OMP_NUM_THREADS=1 python benchmarks/decontaminate.py [--n 25000] [--tasks all]

Times are CPU seconds of this process (``time.process_time``: steadier than wall time on a
shared machine; the wall time is printed beside it). The last line is the speedup of
bioharness (index + check) over the Janitor (register + check).
"""
import argparse
import contextlib
import io
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from biomed_instructions import make_instructions  # noqa: E402

from bioharness.plugins.decontam.overlap import decontaminate, task_texts  # noqa: E402
from bioharness.records import Instruction  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=25000)
    parser.add_argument("--tasks", default="all")
    parser.add_argument("--ngram", type=int, default=13)
    args = parser.parse_args(argv)
    data_dir = os.environ.get("BIOHARNESS_DATA")

    t = time.perf_counter()
    texts = task_texts([args.tasks], data_dir=Path(data_dir) if data_dir else None)
    load = time.perf_counter() - t
    n_texts = sum(len(rows) for rows in texts.values())
    print(f"read {n_texts} texts of {sum(len({e for e, _ in r}) for r in texts.values())} examples "
          f"({len(texts)} tasks, test+dev) in {load:.1f} s")

    rng = random.Random(0)
    long_texts = [(task, text) for task, rows in sorted(texts.items()) for _, text in rows if len(text.split()) >= 30]
    instructions = []
    for i, row in enumerate(make_instructions(args.n, seed=0)):
        row.pop("provenance")
        if i % 100 == 0:
            _, text = long_texts[rng.randrange(len(long_texts))]
            words = text.split()
            start = rng.randrange(len(words) - 20)
            row["input"] = f"{row['input']}\n{' '.join(words[start:start + 20])}"
        instructions.append(Instruction(**row))
    words = sum(len(f"{i.instruction} {i.input} {i.output}".split()) for i in instructions)
    print(f"{len(instructions)} instructions, {words / len(instructions):.0f} words on average")

    t, wall = time.process_time(), time.perf_counter()
    kept, report = decontaminate(instructions, texts, n=args.ngram)
    ours, ours_wall = time.process_time() - t, time.perf_counter() - wall
    print(f"bioharness: {report['overlapping']} overlapping instructions, index + check in {ours:.2f} s CPU "
          f"({ours_wall:.2f} s wall)")

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        from lm_eval.decontamination.janitor import Janitor, word_ngrams  # prints a warning about its C++ module
    t, wall = time.process_time(), time.perf_counter()
    janitor = Janitor(ngram_n=args.ngram)
    for rows in texts.values():
        for _, text in rows:
            janitor.register_contaminant_python(text)
    flagged = set()
    for inst in instructions:
        text = janitor.normalize_string("\n".join(p for p in (inst.instruction, inst.input, inst.output) if p))
        if any(gram in janitor.dirt_ngrams for gram in word_ngrams(text, args.ngram)):
            flagged.add(inst.id)
    peer, peer_wall = time.process_time() - t, time.perf_counter() - wall
    print(f"lm-eval Janitor: {len(flagged)} overlapping instructions, register + check in {peer:.2f} s CPU "
          f"({peer_wall:.2f} s wall)")
    ours_ids = {p["instruction"] for p in report["pairs"]}
    assert ours_ids == flagged, f"verdicts differ: {sorted(ours_ids ^ flagged)[:10]}"
    print("verdicts: identical")
    print(f"speedup: {peer / ours:.2f}x")


if __name__ == "__main__":
    main()
