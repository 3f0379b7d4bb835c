"""Readers of the BioNLP datasets bioharness ships tasks for, one per dataset.

Each is a :class:`DatasetReader`: registered under the dataset's name (``reader: medqa``)
it reads the files the task spec lists in ``data.files`` (per split), and when a spec lists
none, its default layout under the data directory (the layout of ``shared/data``:
``medqa_usmle_4opt/``, ``bc5cdr/``, ...). ``READERS[name](data_dir, split)`` and the
``read_<dataset>(data_dir, split)`` functions read that default layout directly.

Example ids are stable: the source id where the data has one (PMID, pair id, encounter id),
otherwise ``<split>-<index>`` in file order. ``meta["source"]`` says where the record came
from (``file:line`` relative to the data directory, or ``file:row N`` for spreadsheets).
The NER datasets are read by the generic ``conll`` reader (:mod:`.generic`).

Malformed data raises :class:`bioharness.DataError` naming the file and the line (or key);
an unknown split raises :class:`bioharness.UsageError`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

from bioharness import DataError, Example, UsageError

from .formats import (_field, _rel, _resolve_split, _text, _xlsx_table, iter_csv, iter_jsonl, iter_pipe_pairs,
                      iter_tsv, read_ddi_xml, read_json)
from .generic import conll_examples


def _one(files: Sequence[Path], reader: str, most: int = 1) -> Path:
    """The first of ``files``, which must hold 1 to ``most`` files."""
    if not files or len(files) > most:
        want = "one file" if most == 1 else f"1 to {most} files"
        raise UsageError(f"reader {reader!r} reads {want}, got {len(files)}: {', '.join(map(str, files)) or 'none'}")
    return files[0]


# --------------------------------------------------------------------------- MCQA

def _read_medqa(files: list[Path], split: str, root: Path | None = None) -> list[Example]:
    """MedQA-USMLE 4-option (US). inputs: question, options {A..D: text}; reference: the
    letter; ids ``test-<index>`` (the source has no ids)."""
    path = _one(files, "medqa")
    out = []
    for i, (lineno, row) in enumerate(iter_jsonl(path)):
        options = _field(row, "options", path, lineno)
        answer = _field(row, "answer_idx", path, lineno)
        if not isinstance(options, dict) or list(options) != ["A", "B", "C", "D"]:
            raise DataError(path, lineno, f"expected options A-D, found {options!r:.60}")
        if answer not in options:
            raise DataError(path, lineno, f"answer_idx {answer!r} is not an option")
        out.append(Example(
            id=f"{split}-{i}",
            inputs={"question": _field(row, "question", path, lineno), "options": dict(options)},
            reference=answer,
            meta={"answer_text": row.get("answer"), "meta_info": row.get("meta_info"),
                  "source": f"{_rel(path, root)}:{lineno}"},
        ))
    return out


def _read_medmcqa(files: list[Path], split: str, root: Path | None = None) -> list[Example]:
    """MedMCQA dev (the labelled evaluation split). ``cop`` is 1-based in this file
    (1 = opa); the reference is the letter A-D. Ids are the source ids."""
    path = _one(files, "medmcqa")
    out = []
    for lineno, row in iter_jsonl(path):
        cop = _field(row, "cop", path, lineno)
        if cop not in (1, 2, 3, 4):
            raise DataError(path, lineno, f"cop={cop!r}, expected 1-4 (1-based)")
        options = {letter: _field(row, key, path, lineno) for letter, key in zip("ABCD", ("opa", "opb", "opc", "opd"))}
        out.append(Example(
            id=str(_field(row, "id", path, lineno)),
            inputs={"question": _field(row, "question", path, lineno), "options": options},
            reference="ABCD"[cop - 1],
            meta={"subject": row.get("subject_name"), "topic": row.get("topic_name"),
                  "choice_type": row.get("choice_type"), "source": f"{_rel(path, root)}:{lineno}"},
        ))
    return out


MMLU_MEDICAL_SUBJECTS = (
    "anatomy",
    "clinical_knowledge",
    "college_biology",
    "college_medicine",
    "medical_genetics",
    "professional_medicine",
)


def _read_mmlu_medical(files: list[Path], split: str, root: Path | None = None, subjects: Sequence[str] | None = None) -> list[Example]:
    """The six medical MMLU subjects (headerless CSV: question, A, B, C, D, answer).
    Ids ``<subject>-<index>``; ``meta["subject"]``."""
    by_subject = {}
    for path in files:
        subject = path.name.rsplit("_", 1)[0] if "_" in path.name else path.stem
        by_subject[subject] = path
    subjects = tuple(by_subject) if subjects is None else tuple(subjects)
    out = []
    for subject in subjects:
        if subject not in MMLU_MEDICAL_SUBJECTS:
            raise UsageError(f"unknown MMLU medical subject {subject!r}; choose from {', '.join(MMLU_MEDICAL_SUBJECTS)}")
        if subject not in by_subject:
            raise UsageError(f"reader 'mmlu_medical': no file for subject {subject!r} among {', '.join(map(str, files))}")
        path = by_subject[subject]
        rows = iter_csv(path, header=("question", "A", "B", "C", "D", "answer"))
        for i, (lineno, row) in enumerate(rows):
            answer = row["answer"].strip()
            if answer not in ("A", "B", "C", "D"):
                raise DataError(path, lineno, f"answer {answer!r} is not A-D")
            out.append(Example(
                id=f"{subject}-{i}",
                inputs={"question": row["question"], "options": {k: row[k] for k in "ABCD"}},
                reference=answer,
                meta={"subject": subject, "source": f"{_rel(path, root)}:{lineno}"},
            ))
    return out


def _read_pubmedqa(files: list[Path], split: str, root: Path | None = None) -> list[Example]:
    """PubMedQA PQA-L. ``test``: the official 500 test PMIDs (``test_ground_truth.json``),
    in that file's order; ``trainval``: the other 500 (the pool the official CV folds come
    from), in ``ori_pqal.json`` order. inputs: question, context (the abstract's sections
    without the conclusion, one per line); reference: yes/no/maybe; id: the PMID."""
    path = _one(files, "pubmedqa", 2)
    truth_path = files[1] if len(files) > 1 else path.parent / "test_ground_truth.json"
    data, truth = read_json(path), read_json(truth_path)
    if not isinstance(data, dict) or not isinstance(truth, dict):
        raise DataError(path if not isinstance(data, dict) else truth_path, None, "expected a JSON object keyed by PMID")
    if split == "test":
        missing = [pmid for pmid in truth if pmid not in data]
        if missing:
            raise DataError(truth_path, missing[0], "test PMID is not in ori_pqal.json")
        pmids = list(truth)
    else:
        pmids = [pmid for pmid in data if pmid not in truth]
    out = []
    for pmid in pmids:
        item = data[pmid]
        label = _field(item, "final_decision", path, pmid)
        if label not in ("yes", "no", "maybe"):
            raise DataError(path, pmid, f"final_decision {label!r} is not yes/no/maybe")
        if split == "test" and truth[pmid] != label:
            raise DataError(truth_path, pmid, f"label {truth[pmid]!r} differs from ori_pqal.json ({label!r})")
        contexts = _field(item, "CONTEXTS", path, pmid)
        out.append(Example(
            id=pmid,
            inputs={"question": _field(item, "QUESTION", path, pmid), "context": "\n".join(contexts)},
            reference=label,
            meta={"context_labels": item.get("LABELS", []), "long_answer": item.get("LONG_ANSWER"),
                  "year": item.get("YEAR"), "source": f"{_rel(path, root)}:{pmid}"},
        ))
    return out


# --------------------------------------------------------------------------- NER

def _read_ner(files: list[Path], split: str, root: Path | None, types: Sequence[str]) -> list[Example]:
    """IOB2 two-column files through the generic ``conll`` reader; a type outside
    ``types`` is an error (the dataset has exactly these)."""
    return conll_examples([_one(files, "ner")], split, root, types=types)


_NER_SPLITS = ("test", "devel")


def _read_bc5cdr(files: list[Path], split: str, root: Path | None = None) -> list[Example]:
    """BC5CDR, chemicals and diseases together (``BC5CDR-IOB``). NER inputs: text (tokens
    joined with spaces) and tokens; reference: gold mentions ``{text, start_token,
    end_token (exclusive), type}``; ids ``<split>-<sentence index>``."""
    return _read_ner(files, split, root, ("Chemical", "Disease"))


def _read_bc5cdr_chem(files: list[Path], split: str, root: Path | None = None) -> list[Example]:
    """BC5CDR chemicals only (BLURB BC5-chem, ``BC5CDR-chem-IOB``)."""
    return _read_ner(files, split, root, ("Chemical",))


def _read_bc5cdr_disease(files: list[Path], split: str, root: Path | None = None) -> list[Example]:
    """BC5CDR diseases only (BLURB BC5-disease, ``BC5CDR-disease-IOB``)."""
    return _read_ner(files, split, root, ("Disease",))


def _read_ncbi_disease(files: list[Path], split: str, root: Path | None = None) -> list[Example]:
    """NCBI-disease (single type ``Disease``)."""
    return _read_ner(files, split, root, ("Disease",))


def _read_bc2gm(files: list[Path], split: str, root: Path | None = None) -> list[Example]:
    """BC2GM gene mentions (single type ``GENE``, primary annotation only)."""
    return _read_ner(files, split, root, ("GENE",))


# --------------------------------------------------------------------------- RE

DDI_LABELS = ("DDI-mechanism", "DDI-effect", "DDI-advise", "DDI-int", "DDI-false")
CHEMPROT_LABELS = ("CPR:3", "CPR:4", "CPR:5", "CPR:6", "CPR:9", "False")
GAD_LABELS = ("positive", "negative")


def _mark(text: str, e1: dict, e2: dict) -> str:
    """``text`` with ``[E1]..[/E1]`` and ``[E2]..[/E2]`` around the two entities' outer
    character ranges (inserted right to left so earlier offsets stay valid)."""
    inserts = [(e1["start"], 1, "[E1]"), (e1["end"], 0, "[/E1]"), (e2["start"], 1, "[E2]"), (e2["end"], 0, "[/E2]")]
    # at one offset, closing markers go before opening ones
    for pos, _, marker in sorted(inserts, key=lambda t: (t[0], t[1]), reverse=True):
        text = text[:pos] + marker + text[pos:]
    return text


def _read_ddi2013(files: list[Path], split: str, root: Path | None = None) -> list[Example]:
    """DDIExtraction 2013 test, one example per candidate pair (5,716). Labels are
    BLURB's: ``DDI-mechanism``, ``DDI-effect``, ``DDI-advise``, ``DDI-int`` and the negative
    ``DDI-false``. inputs: text (the sentence), text_marked (with [E1]/[E2] markers), e1 and
    e2 (``{id, text, type, start, end, spans}``, end exclusive). Ids are the pair ids;
    documents are read DrugBank then MedLine, each in file-name order."""
    documents = []
    for folder in files:
        found = sorted(folder.glob("*/*.xml"), key=lambda p: (p.parent.name, p.name)) if folder.is_dir() else [folder]
        if not found:
            raise DataError(folder, None, "no DDI XML documents found")
        documents += found
    out = []
    for path in documents:
        doc = read_ddi_xml(path)
        for sent in doc["sentences"]:
            for pair in sent["pairs"]:
                e1, e2 = sent["entities"][pair["e1"]], sent["entities"][pair["e2"]]
                label = f"DDI-{pair['type']}" if pair["ddi"] else "DDI-false"
                if label not in DDI_LABELS:
                    raise DataError(path, pair["id"], f"unknown interaction type {pair['type']!r}")
                out.append(Example(
                    id=pair["id"],
                    inputs={"text": sent["text"], "text_marked": _mark(sent["text"], e1, e2), "e1": e1, "e2": e2},
                    reference=label,
                    meta={"document": doc["id"], "sentence": sent["id"], "collection": path.parent.name,
                          "source": f"{_rel(path, root)}:{pair['id']}"},
                ))
    return out


def _read_chemprot(files: list[Path], split: str, root: Path | None = None) -> list[Example]:
    """ChemProt, CPR-group version (``test_cpr_bioelectra.tsv``, 14,396 candidate pairs):
    labels ``CPR:3|4|5|6|9`` and the negative ``False``. The sentence has the target
    chemical replaced by ``BC6ENTC``, the target gene by ``BC6ENTG`` and other entities by
    ``BC6OTHER``; inputs: text. Ids ``test-<index>``."""
    path = _one(files, "chemprot")
    out = []
    for i, (lineno, row) in enumerate(iter_tsv(path)):
        if set(row) != {"sentence", "label"}:
            raise DataError(path, 1, f"header {list(row)} is not ['sentence', 'label']")
        if row["label"] not in CHEMPROT_LABELS:
            raise DataError(path, lineno, f"label {row['label']!r} not in {list(CHEMPROT_LABELS)}")
        out.append(Example(
            id=f"{split}-{i}",
            inputs={"text": row["sentence"], "chemical": "BC6ENTC", "gene": "BC6ENTG"},
            reference=row["label"],
            meta={"source": f"{_rel(path, root)}:{lineno}"},
        ))
    return out


_SCIBERT_E1 = re.compile(r"<< (.+?) >>")
_SCIBERT_E2 = re.compile(r"\[\[ (.+?) \]\]")


def _read_chemprot_scibert(files: list[Path], split: str, root: Path | None = None) -> list[Example]:
    """ChemProt, SciBERT version (``test.txt`` 3,469 / ``dev.txt`` 2,427): positive pairs
    only, fine-grained labels (INHIBITOR, SUBSTRATE, ...). The text wraps the first
    argument in ``<< >>`` and the second in ``[[ ]]``; either can be the chemical or the
    protein, so inputs name them e1 and e2."""
    path = _one(files, "chemprot_scibert")
    out = []
    for i, (lineno, row) in enumerate(iter_jsonl(path)):
        text = _field(row, "text", path, lineno)
        e1, e2 = _SCIBERT_E1.search(text), _SCIBERT_E2.search(text)
        if not e1 or not e2:
            raise DataError(path, lineno, "text lacks the << >> or [[ ]] entity markers")
        out.append(Example(
            id=f"{split}-{i}",
            inputs={"text": text, "e1": e1.group(1), "e2": e2.group(1)},
            reference=_field(row, "label", path, lineno),
            meta={"source": f"{_rel(path, root)}:{lineno}"},
        ))
    return out


def _read_gad(files: list[Path], split: str, root: Path | None = None, source: str = "blurb") -> list[Example]:
    """GAD, BLURB split (test 534, dev 535). Labels ``positive``/``negative``; the gene is
    masked as ``@GENE$`` and the disease as ``@DISEASE$``. ``source="blurb"`` reads the
    JSON-lines files (ids ``test_0``...; inputs: text, e1, e2 with ``[start, end)``
    offsets); ``source="biobert"`` reads the BioBERT ``test.tsv`` (same sentences in the
    same order, labels 1/0 mapped to positive/negative, ids ``test_<index>``)."""
    out = []
    if source == "biobert":
        if split != "test":
            raise UsageError("GAD source 'biobert' has only the test split")
        path = _one(files, "gad")
        for lineno, row in iter_tsv(path):
            if row.get("label") not in ("0", "1"):
                raise DataError(path, lineno, f"label {row.get('label')!r} is not 0 or 1")
            out.append(Example(
                id=f"{split}_{row['index']}",
                inputs={"text": row["sentence"]},
                reference="positive" if row["label"] == "1" else "negative",
                meta={"source": f"{_rel(path, root)}:{lineno}"},
            ))
        return out
    if source != "blurb":
        raise UsageError(f"GAD source {source!r}: choose 'blurb' or 'biobert'")
    path = _one(files, "gad")
    for lineno, row in iter_jsonl(path):
        relations = _field(row, "relation", path, lineno)
        if not isinstance(relations, list) or len(relations) != 1:
            raise DataError(path, lineno, "expected exactly one relation")
        rel = relations[0]
        label = _field(rel, "relation_type", path, lineno)
        if label not in GAD_LABELS:
            raise DataError(path, lineno, f"relation_type {label!r} not in {list(GAD_LABELS)}")
        entities = []
        for k in ("entity_1", "entity_2"):
            start, end = _field(rel, f"{k}_idx", path, lineno)
            entities.append({"text": rel[k], "type": rel.get(f"{k}_type"), "start": start, "end": end})
        out.append(Example(
            id=str(_field(row, "id", path, lineno)),
            inputs={"text": _field(row, "text", path, lineno), "e1": entities[0], "e2": entities[1]},
            reference=label,
            meta={"source": f"{_rel(path, root)}:{lineno}"},
        ))
    return out


# --------------------------------------------------------------------------- summarisation

def _read_meqsum(files: list[Path], split: str, root: Path | None = None) -> list[Example]:
    """MeQSum: 1,000 consumer health questions (CHQ) with one-sentence summaries; no
    official split, so the only split is ``all``. Ids are the ``File`` column."""
    path = _one(files, "meqsum")
    out = []
    for number, row in _xlsx_table(path, ("File", "CHQ", "Summary")):
        if not _text(row["File"]) or not _text(row["CHQ"]) or not _text(row["Summary"]):
            raise DataError(path, f"row {number}", "empty File, CHQ or Summary")
        out.append(Example(
            id=_text(row["File"]),
            inputs={"question": _text(row["CHQ"])},
            reference=_text(row["Summary"]),
            meta={"source": f"{_rel(path, root)}:row {number}"},
        ))
    return out


def _read_mediqa_qs(files: list[Path], split: str, root: Path | None = None) -> list[Example]:
    """MEDIQA 2021 question summarisation: ``val`` (50, also gives question focus and
    type in meta) and ``test`` (100). Ids are the ``q_id`` column."""
    path = _one(files, "mediqa_qs")
    if split == "val":
        columns = ("q_id", "NLM Question", "Summary", "Question Focus", "Question Type")
    else:
        columns = ("q_id", "NLM Question", "Summary")
    out = []
    for number, row in _xlsx_table(path, columns):
        meta = {"source": f"{_rel(path, root)}:row {number}"}
        if split == "val":
            meta.update(focus=_text(row["Question Focus"]), type=_text(row["Question Type"]))
        out.append(Example(
            id=_text(row["q_id"]),
            inputs={"question": _text(row["NLM Question"])},
            reference=_text(row["Summary"]),
            meta=meta,
        ))
    return out


def _read_mediqa_mas(files: list[Path], split: str, root: Path | None = None) -> list[Example]:
    """MEDIQA 2021 multi-answer summarisation: ``val`` (50 questions) and ``test`` (80).
    inputs: question (the short question), answers (list, spreadsheet order); reference:
    the abstractive multi-answer summary; meta: the extractive one and the answer ids.
    The validation answers workbook is Strict OOXML (see :func:`read_xlsx`)."""
    if len(files) != 4:
        raise UsageError(f"reader 'mediqa_mas' reads 4 files (answers .xlsx, short questions, abstractive and "
                         f"extractive summaries), got {len(files)}")
    answers_path, questions_path, abstractive, extractive = files

    def by_id(path: Path) -> dict[str, tuple[int, str]]:
        found: dict[str, tuple[int, str]] = {}
        for lineno, key, text in iter_pipe_pairs(path):
            if key in found:
                raise DataError(path, lineno, f"duplicate question id {key!r}")
            found[key] = (lineno, text)
        return found

    questions, abstracts, extracts = by_id(questions_path), by_id(abstractive), by_id(extractive)
    answers: dict[str, list[tuple[str, str]]] = {}
    for number, row in _xlsx_table(answers_path, ("question_id", "answer_id", "Answer")):
        answers.setdefault(_text(row["question_id"]), []).append((_text(row["answer_id"]), _text(row["Answer"])))
    out = []
    for qid, (lineno, question) in questions.items():
        for path, table in ((abstractive, abstracts), (extractive, extracts)):
            if qid not in table:
                raise DataError(path, None, f"no summary for question {qid!r}")
        if qid not in answers:
            raise DataError(answers_path, None, f"no answers for question {qid!r}")
        out.append(Example(
            id=qid,
            inputs={"question": question, "answers": [a for _, a in answers[qid]]},
            reference=abstracts[qid][1],
            meta={"extractive_summary": extracts[qid][1], "answer_ids": [i for i, _ in answers[qid]],
                  "source": f"{_rel(questions_path, root)}:{lineno}"},
        ))
    return out


_MTS_FILES = {
    "test1": "MTS-Dialog-TestSet-1-MEDIQA-Chat-2023.csv",
    "test2": "MTS-Dialog-TestSet-2-MEDIQA-Sum-2023.csv",
    "val": "MTS-Dialog-ValidationSet.csv",
}


def _read_mts_dialog(files: list[Path], split: str, root: Path | None = None) -> list[Example]:
    """MTS-Dialog: dialogue → one clinical note section. Splits ``test1`` (MEDIQA-Chat
    2023 Task A), ``test2`` (MEDIQA-Sum 2023), ``val``. inputs: dialogue, section_header
    (GENHX, CC, ...); reference: section_text; ids ``<split>-<ID>``."""
    path = _one(files, "mts_dialog")
    out = []
    for lineno, row in iter_csv(path):
        for key in ("ID", "section_header", "section_text", "dialogue"):
            _field(row, key, path, 1)
        out.append(Example(
            id=f"{split}-{row['ID'].strip()}",
            inputs={"dialogue": row["dialogue"].strip(), "section_header": row["section_header"].strip()},
            reference=row["section_text"].strip(),
            meta={"section_header": row["section_header"].strip(), "source": f"{_rel(path, root)}:{lineno}"},
        ))
    return out


_ACI_FILES = {
    "valid": "valid",
    "test1": "clinicalnlp_taskB_test1",
    "test2": "clinicalnlp_taskC_test2",
    "test3": "clef_taskC_test3",
}


def _read_aci_bench(files: list[Path], split: str, root: Path | None = None) -> list[Example]:
    """ACI-Bench: full doctor-patient dialogue → full visit note. Splits ``valid`` (20) and
    ``test1``/``test2``/``test3`` (40 each: MEDIQA-Chat Task B, Task C, MEDIQA-Sum Task C).
    inputs: dialogue; reference: note; ids are the encounter ids; meta adds the
    sub-source (virtassist/virtscribe/aci) and the metadata CSV's fields."""
    path = _one(files, "aci_bench", 2)
    meta_path = files[1] if len(files) > 1 else path.with_name(f"{path.stem}_metadata.csv")
    extra = {}
    if meta_path.is_file():
        for lineno, row in iter_csv(meta_path):
            extra[_field(row, "encounter_id", meta_path, lineno)] = {
                k: v.strip() for k, v in row.items() if k not in ("dataset", "encounter_id")
            }
    out = []
    for lineno, row in iter_csv(path):
        eid = _field(row, "encounter_id", path, lineno)
        out.append(Example(
            id=eid,
            inputs={"dialogue": _field(row, "dialogue", path, lineno).strip()},
            reference=_field(row, "note", path, lineno).strip(),
            meta={"dataset": row.get("dataset"), **extra.get(eid, {}), "source": f"{_rel(path, root)}:{lineno}"},
        ))
    return out



# --------------------------------------------------------------------------- registry

@dataclass(frozen=True)
class DatasetReader:
    """A reader of one dataset (see the module docstring); follows
    :class:`bioharness.interfaces.Reader`."""

    name: str
    fn: Callable[..., list[Example]]
    splits: tuple[str, ...]
    kind: str
    #: (split, **options) -> the default files, relative to the data directory
    layout: Callable[..., list[str]]
    options: Mapping[str, tuple] = field(default_factory=dict)
    default_split: str = ""
    description: str = ""
    needs_files = True

    @property
    def kinds(self) -> tuple[str, ...]:
        return (self.kind,)

    def resolve(self, split: str) -> str:
        return _resolve_split(self.name, split, self.splits)

    def default_files(self, split: str, **options) -> list[str]:
        return list(self.layout(self.resolve(split), **options))

    def read(self, files: Sequence[Path], split: str, kind: str | None = None, root: Path | None = None,
             **options) -> list[Example]:
        return self.fn([Path(f) for f in files], self.resolve(split), root, **options)

    def __call__(self, data_dir: Path, split: str | None = None, **options) -> list[Example]:
        data_dir = Path(data_dir)
        split = split or self.default_split or self.splits[0]
        files = [data_dir / f for f in self.default_files(split, **options)]
        return self.read(files, split, root=data_dir, **options)


def _fixed(*names: str) -> Callable[..., list[str]]:
    return lambda split, **options: list(names)


def _mmlu_layout(split, subjects=None):
    return [f"mmlu_medical/{s}_{split}.csv" for s in (subjects or MMLU_MEDICAL_SUBJECTS)]


def _gad_layout(split, source="blurb"):
    return ["gad/test.tsv"] if source == "biobert" else [f"gad/{split}_blurb.jsonl"]


def _mediqa_mas_layout(split):
    if split == "val":
        folder, a, q, s = "mediqa2021_mas/Validation", "ValidationSet", "VAlidationSet", "ValidationSet"
        return [f"{folder}/MEDIQA2021_Task2_{a}_Answers.xlsx", f"{folder}/MEDIQA2021_Task2_{q}_ShortQuestions.txt",
                f"{folder}/MEDIQA2021_Task2_{s}_MultiAbstrativeSummaries.txt",
                f"{folder}/MEDIQA2021_Task2_{s}_MultiExtractiveSummaries.txt"]
    folder = "mediqa2021_mas/Test"
    return [f"{folder}/MEDIQA2021_Task2_MAS_TestSet_Answers.xlsx", f"{folder}/MEDIQA2021_Task2_MAS_TestSet_shortQuestions.txt",
            f"{folder}/MEDIQA2021_Task2_TestSet_MultiAbstrativeSummaries.txt",
            f"{folder}/MEDIQA2021_Task2_TestSet_MultiExtractiveSummaries.txt"]


def _ner_layout(folder):
    return lambda split: [f"{folder}/{split}.tsv"]


_MEDIQA_QS_FILES = {"val": "MEDIQA2021-Task1-QuestionSummarization-ValidationSet.xlsx",
                    "test": "MEDIQA2021-Task1-TestSet-ReferenceSummaries.xlsx"}

READERS: dict[str, DatasetReader] = {
    r.name: r
    for r in (
        DatasetReader("medqa", _read_medqa, ("test",), "mcqa", _fixed("medqa_usmle_4opt/phrases_no_exclude_test.jsonl"),
                      description="MedQA-USMLE 4 options (JSON lines)"),
        DatasetReader("medmcqa", _read_medmcqa, ("dev",), "mcqa", _fixed("medmcqa/dev.json"), description="MedMCQA dev"),
        DatasetReader("mmlu_medical", _read_mmlu_medical, ("test",), "mcqa", _mmlu_layout,
                      options={"subjects": (list, "the subjects to read (default: the files listed)")},
                      description="MMLU medical subjects (headerless CSV per subject)"),
        DatasetReader("pubmedqa", _read_pubmedqa, ("test", "trainval"), "mcqa",
                      _fixed("pubmedqa/ori_pqal.json", "pubmedqa/test_ground_truth.json"), description="PubMedQA PQA-L"),
        DatasetReader("bc5cdr", _read_bc5cdr, _NER_SPLITS, "ner", _ner_layout("bc5cdr/BC5CDR-IOB"),
                      description="BC5CDR chemicals and diseases (IOB2)"),
        DatasetReader("bc5cdr_chem", _read_bc5cdr_chem, _NER_SPLITS, "ner", _ner_layout("bc5cdr/BC5CDR-chem-IOB"),
                      description="BC5CDR chemicals (IOB2)"),
        DatasetReader("bc5cdr_disease", _read_bc5cdr_disease, _NER_SPLITS, "ner", _ner_layout("bc5cdr/BC5CDR-disease-IOB"),
                      description="BC5CDR diseases (IOB2)"),
        DatasetReader("ncbi_disease", _read_ncbi_disease, _NER_SPLITS, "ner", _ner_layout("ncbi_disease"),
                      description="NCBI-disease (IOB2)"),
        DatasetReader("bc2gm", _read_bc2gm, _NER_SPLITS, "ner", _ner_layout("bc2gm"), description="BC2GM genes (IOB2)"),
        DatasetReader("ddi2013", _read_ddi2013, ("test",), "re", _fixed("ddi2013/Test_DDI_Extraction"),
                      description="DDIExtraction 2013 XML (a folder or XML files)"),
        DatasetReader("chemprot", _read_chemprot, ("test",), "re", _fixed("chemprot/test_cpr_bioelectra.tsv"),
                      description="ChemProt, CPR groups (BioELECTRA TSV)"),
        DatasetReader("chemprot_scibert", _read_chemprot_scibert, ("test", "dev"), "re",
                      lambda split: [f"chemprot/{split}.txt"], description="ChemProt, SciBERT JSON lines"),
        DatasetReader("gad", _read_gad, ("test", "dev"), "re", _gad_layout,
                      options={"source": (str, "blurb (JSON lines, default) or biobert (test.tsv)")},
                      description="GAD gene-disease (BLURB)"),
        DatasetReader("meqsum", _read_meqsum, ("all",), "summarization",
                      _fixed("meqsum/MeQSum_ACL2019_BenAbacha_Demner-Fushman.xlsx"), description="MeQSum (xlsx)"),
        DatasetReader("mediqa_qs", _read_mediqa_qs, ("val", "test"), "summarization",
                      lambda split: [f"mediqa2021_qs/{_MEDIQA_QS_FILES[split]}"], default_split="test",
                      description="MEDIQA 2021 question summarisation (xlsx)"),
        DatasetReader("mediqa_mas", _read_mediqa_mas, ("val", "test"), "summarization", _mediqa_mas_layout,
                      default_split="test", description="MEDIQA 2021 multi-answer summarisation"),
        DatasetReader("mts_dialog", _read_mts_dialog, tuple(_MTS_FILES), "summarization",
                      lambda split: [f"mts_dialog/{_MTS_FILES[split]}"], description="MTS-Dialog (CSV)"),
        DatasetReader("aci_bench", _read_aci_bench, tuple(_ACI_FILES), "summarization",
                      lambda split: [f"aci_bench/{_ACI_FILES[split]}.csv"], default_split="test1",
                      description="ACI-Bench (CSV, with its metadata CSV beside it)"),
    )
}


def _public(name: str) -> Callable[..., list[Example]]:
    def read(data_dir: Path, split: str | None = None, *args, **options) -> list[Example]:
        options.update(zip(READERS[name].options, args))  # positional options, in their declared order
        return READERS[name](data_dir, split, **options)

    read.__name__ = read.__qualname__ = f"read_{name}"
    read.__doc__ = READERS[name].fn.__doc__
    return read


read_medqa, read_medmcqa, read_mmlu_medical, read_pubmedqa = map(_public, ("medqa", "medmcqa", "mmlu_medical", "pubmedqa"))
read_bc5cdr, read_bc5cdr_chem, read_bc5cdr_disease, read_ncbi_disease, read_bc2gm = map(
    _public, ("bc5cdr", "bc5cdr_chem", "bc5cdr_disease", "ncbi_disease", "bc2gm"))
read_ddi2013, read_chemprot, read_chemprot_scibert, read_gad = map(_public, ("ddi2013", "chemprot", "chemprot_scibert", "gad"))
read_meqsum, read_mediqa_qs, read_mediqa_mas, read_mts_dialog, read_aci_bench = map(
    _public, ("meqsum", "mediqa_qs", "mediqa_mas", "mts_dialog", "aci_bench"))
