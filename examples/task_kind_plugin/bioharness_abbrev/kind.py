"""``abbreviation``: expand the abbreviation marked in a clinical sentence.

Data: JSON lines ``{"id", "sentence", "abbreviation", "expansions": [...]}``, the file
named by the spec's ``data.files``, looked for under the data directory and then next to
the spec (so the task's own small file ships with the plugin).

Per-sample values (summable, as the core requires): ``exact`` (1 when the answer equals
one of the accepted expansions after normalisation) and ``f1`` (the best token F1 against
the accepted expansions). Metrics: ``exact_match`` and ``token_f1``, their means.
"""
import json
import re
from collections import Counter
from pathlib import Path

from bioharness import DataError, Example, Request, Score, UsageError

FIELDS = ("id", "sentence", "abbreviation", "expansions")
METRICS = ("exact_match", "token_f1")


def normalize(text):
    """Lowercase, punctuation to spaces, single spaces; a leading "it means" is dropped."""
    text = re.sub(r"[^\w]+", " ", (text or "").lower()).strip()
    return re.sub(r"^(?:answer|expansion|it means|it stands for|stands for)\s+", "", text)


def token_f1(prediction, reference):
    pred, ref = normalize(prediction).split(), normalize(reference).split()
    common = sum((Counter(pred) & Counter(ref)).values())
    return 2 * common / (len(pred) + len(ref)) if pred and ref else 0.0


class AbbreviationKind:
    def validate(self, spec):
        if spec.options:
            raise DataError(spec.path, f"options.{next(iter(spec.options))}", "this kind takes no options")
        for metric in spec.metrics:
            if metric not in METRICS:
                raise DataError(spec.path, "metrics", f"unknown metric {metric!r} (known: {', '.join(METRICS)})")
        if spec.data["reader"] != "jsonl":
            raise DataError(spec.path, "data.reader", "this kind reads its own JSON-lines format: use reader: jsonl")
        if len(spec.data.get("files", ())) != 1:
            raise DataError(spec.path, "data.files", "name exactly one JSON-lines file")

    def load(self, spec, data_dir, split):
        self.validate(spec)
        name = spec.data["files"][0]
        candidates = ([Path(data_dir) / name] if data_dir else []) + [spec.path.parent / name]
        path = next((p for p in candidates if p.is_file()), None)
        if path is None:
            raise UsageError(f"task {spec.name}: data not found: looked for {', '.join(map(str, candidates))}")
        examples = []
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(path, lineno, f"invalid JSON ({exc.msg})") from None
            missing = [f for f in FIELDS if f not in row]
            if missing:
                raise DataError(path, lineno, f"missing field(s) {', '.join(missing)}")
            if row.get("split", spec.split) != split:
                continue
            examples.append(Example(id=str(row["id"]), inputs={"sentence": row["sentence"],
                                                               "abbreviation": row["abbreviation"]},
                                    reference=list(row["expansions"]), meta={"source": f"{path.name}:{lineno}"}))
        return examples

    def requests(self, spec, example, shots):
        prompt = spec.prompt["template"].format(**example.inputs)
        return [Request(id=example.id, prompt=prompt, system=spec.prompt.get("system"),
                        chat=spec.prompt.get("chat", True),
                        max_new_tokens=spec.generation.get("max_new_tokens", 16),
                        temperature=float(spec.generation.get("temperature", 0.0)))]

    def score(self, spec, examples, outputs, judge):
        scores = []
        for example, (output,) in zip(examples, outputs):
            answer = None if output.error else output.text.strip().splitlines()[0] if output.text.strip() else ""
            accepted = {normalize(e) for e in example.reference}
            exact = int(answer is not None and normalize(answer) in accepted)
            f1 = max((token_f1(answer, e) for e in example.reference), default=0.0) if answer is not None else 0.0
            scores.append(Score(id=example.id, task=spec.name, prediction=answer, reference=example.reference,
                                values={"exact": exact, "f1": f1}))
        return scores

    def metrics(self, spec, sums, n):
        return {"exact_match": sums.get("exact", 0.0) / n, "token_f1": sums.get("f1", 0.0) / n}
