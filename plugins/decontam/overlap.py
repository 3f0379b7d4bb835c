"""Decontamination: drop (or flag) instructions that share an n-gram with evaluation data.

Normalisation follows the GPT-3 / lm-eval convention: lowercase, ASCII punctuation deleted,
whitespace tokens; an instruction (instruction + input + output) that shares one 13-gram
with a task's test or dev example overlaps it. The task side is indexed once (the hash of
every n-gram -> the texts holding it), so an instruction costs one look-up per n-gram; a
hit is confirmed on the example's own tokens, so a hash collision never drops anything.
"""
import dataclasses
import string

from bioharness import TaskCatalog

_DELETE = str.maketrans("", "", string.punctuation)


def normalize(text):
    """Lowercased whitespace tokens with ASCII punctuation deleted."""
    return text.lower().translate(_DELETE).split()


def _grams(tokens, n):
    """The n-grams of ``tokens`` (a tuple) as tuples, built by zip in C; hashing a tuple
    reuses its strings' cached hashes (several times faster than joining them)."""
    return zip(*(tokens[i:] for i in range(n)))


class NgramIndex:
    """Every n-gram of ``texts_by_task`` ({task: [(example id, text)]}), by hash."""

    def __init__(self, texts_by_task, n=13):
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        self.n = n
        self.tokens = []  # doc -> normalised tokens (identical texts share one doc)
        self.owners = []  # doc -> {(task, example id): None}, in order
        self.examples = {task: len({eid for eid, _ in rows}) for task, rows in texts_by_task.items()}
        self.table = {}  # hash(n-gram) -> the first doc holding it
        self.shared = {}  # hash(n-gram) -> every doc holding it, for n-grams of several docs
        self._confirmed = {}  # doc -> its set of n-grams, built on the doc's first hit
        docs, by_text = {}, {}  # normalised tokens -> doc; raw text -> doc (None: too short)
        for task, rows in texts_by_task.items():
            for example_id, text in rows:
                if text in by_text:
                    doc = by_text[text]
                else:
                    tokens = tuple(normalize(text))
                    doc = docs.get(tokens) if len(tokens) >= n else None
                    if doc is None and len(tokens) >= n:
                        doc = docs[tokens] = len(self.tokens)
                        self.tokens.append(tokens)
                        self.owners.append({})
                        self._add(doc, tokens)
                    by_text[text] = doc
                if doc is not None:
                    self.owners[doc][task, example_id] = None

    def _add(self, doc, tokens):
        keys = set(map(hash, _grams(tokens, self.n)))
        common = self.table.keys() & keys  # iterates the smaller side, in C
        for key in common:
            self.shared.setdefault(key, [self.table[key]]).append(doc)
        keys -= common
        self.table.update(dict.fromkeys(keys, doc))

    def __len__(self):
        return len(self.table)

    def matches(self, text):
        """{(task, example id): the first shared n-gram} for ``text``."""
        tokens = tuple(normalize(text))
        grams = list(_grams(tokens, self.n))
        hits = self.table.keys() & set(map(hash, grams))
        found = {}
        if not hits:
            return found
        for gram in grams:
            key = hash(gram)
            if key not in hits:
                continue
            for doc in self.shared.get(key) or (self.table[key],):
                grams_of_doc = self._confirmed.get(doc)
                if grams_of_doc is None:
                    grams_of_doc = self._confirmed[doc] = set(_grams(self.tokens[doc], self.n))
                if gram not in grams_of_doc:
                    continue  # a hash collision, not an overlap
                for owner in self.owners[doc]:
                    found.setdefault(owner, " ".join(gram))
        return found


def instruction_text(inst):
    return "\n".join(part for part in (inst.instruction, inst.input, inst.output) if part)


def decontaminate(instructions, texts_by_task, n=13, mode="drop", data_dir=None, catalog=None):
    """Check every instruction against ``texts_by_task`` ({task: [(example id, text)]}, or
    task names whose test and dev data :func:`task_texts` reads from ``data_dir``).

    ``mode="drop"`` leaves overlapping instructions out of ``kept``; ``"keep"`` keeps them
    with ``provenance["contamination"]`` listing what they share. Returns ``(kept, report)``;
    the report has the counts per task and every offending pair (instruction, task,
    example, n-gram).
    """
    if mode not in ("drop", "keep"):
        raise ValueError(f"mode must be 'drop' or 'keep', got {mode!r}")
    if isinstance(texts_by_task, (list, tuple)):
        texts_by_task = task_texts(texts_by_task, catalog, data_dir=data_dir)
    index = texts_by_task if isinstance(texts_by_task, NgramIndex) else NgramIndex(texts_by_task, n)
    tasks = {task: {"examples": count, "instructions": 0, "examples_overlapping": 0}
             for task, count in index.examples.items()}
    pairs, kept, hit_examples = [], [], set()
    for inst in instructions:
        found = index.matches(instruction_text(inst))
        if not found:
            kept.append(inst)
            continue
        mine = [{"instruction": inst.id, "task": task, "example": eid, "ngram": gram}
                for (task, eid), gram in found.items()]
        pairs += mine
        hit_examples.update(found)
        for task in {task for task, _ in found}:
            tasks[task]["instructions"] += 1
        if mode == "keep":
            flags = [{k: p[k] for k in ("task", "example", "ngram")} for p in mine]
            kept.append(dataclasses.replace(inst, provenance={**inst.provenance, "contamination": flags}))
    for task, _ in hit_examples:
        tasks[task]["examples_overlapping"] += 1
    overlapping = len({p["instruction"] for p in pairs})
    report = {"n": index.n, "mode": mode, "instructions": len(instructions), "overlapping": overlapping,
              "dropped": overlapping if mode == "drop" else 0, "kept": len(kept), "tasks": tasks, "pairs": pairs}
    return kept, report


def _strings(value):
    """The texts in an example's inputs or reference: strings, a list of strings as one
    text (tokens), and the strings inside mappings and lists of mappings."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        if value and all(isinstance(v, str) for v in value):
            return [" ".join(value)]
        return [s for v in value for s in _strings(v)]
    if hasattr(value, "values"):
        return [s for v in value.values() for s in _strings(v)]
    return []


def eval_splits(spec):
    """The splits decontamination checks: the task's own and its dev split (the few-shot
    split, unless that is training data)."""
    splits = [spec.split]
    extra = spec.prompt.get("fewshot_split")
    if extra and extra != spec.split and "train" not in extra.lower():
        splits.append(extra)
    return splits


def task_texts(specs, catalog=None, data_dir=None):
    """{task: [("<split>/<example id>", text)]} over the test and dev splits of ``specs``
    (task specs, or selectors of ``catalog``: names, ``qa``, ``all``), read through each task kind's ``load``.
    ``catalog`` defaults to the tasks of the active plugins."""
    catalog = catalog or TaskCatalog()
    specs = [x for s in specs for x in (catalog.select(s) if isinstance(s, str) else [s])]
    out = {}
    for spec in specs:
        kind = catalog.kind(spec.kind)
        rows = out.setdefault(spec.name, [])
        for split in eval_splits(spec):
            for example in kind.load(spec, data_dir, split):
                texts = _strings(example.inputs) + _strings(example.reference)
                rows += [(f"{split}/{example.id}", text) for text in dict.fromkeys(texts)]
    return out
