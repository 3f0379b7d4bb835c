"""Readers of the original BioNLP data formats, one per dataset, over a data directory.

Every dataset reader has the signature ``read_<dataset>(data_dir, split) -> list[Example]``
where ``data_dir`` is the folder that holds one sub-folder per dataset (the layout of
``shared/data``: ``medqa_usmle_4opt/``, ``bc5cdr/``, ...). :data:`READERS` maps a reader
name to its function and the splits it supports, so a task spec can say
``reader: medqa`` and ``split: test``.

Example ids are stable: the source id where the data has one (PMID, pair id, encounter id),
otherwise ``<split>-<index>`` in file order. ``meta["source"]`` says where the record came
from (``file:line`` relative to the data directory, or ``file:row N`` for spreadsheets).

Malformed data raises :class:`bioharness.errors.DataError` naming the file and the line
(or key); an unknown split raises :class:`bioharness.errors.UsageError`.

The generic format readers (``iter_jsonl``, ``read_json``, ``iter_csv``, ``iter_tsv``,
``read_conll``, ``read_ddi_xml``, ``read_xlsx``, ``iter_pipe_pairs``) are public too, so a
third-party task can reuse them for a new dataset in one of these formats.
"""
from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from bioharness import DataError, Example, UsageError

from .spans import TagSequenceError, iob2_spans

__all__ = [
    "READERS",
    "Reader",
    "Sentence",
    "iter_jsonl",
    "read_jsonl",
    "read_json",
    "iter_csv",
    "iter_tsv",
    "read_conll",
    "read_ddi_xml",
    "read_xlsx",
    "iter_pipe_pairs",
    "mentions_from_tags",
    "read_medqa",
    "read_medmcqa",
    "read_pubmedqa",
    "read_mmlu_medical",
    "read_bc5cdr",
    "read_bc5cdr_chem",
    "read_bc5cdr_disease",
    "read_ncbi_disease",
    "read_bc2gm",
    "read_ddi2013",
    "read_chemprot",
    "read_chemprot_scibert",
    "read_gad",
    "read_meqsum",
    "read_mediqa_qs",
    "read_mediqa_mas",
    "read_mts_dialog",
    "read_aci_bench",
    "MMLU_MEDICAL_SUBJECTS",
    "DDI_LABELS",
    "CHEMPROT_LABELS",
    "GAD_LABELS",
]


# --------------------------------------------------------------------------- helpers

def _require_file(path: Path) -> Path:
    if not path.is_file():
        raise DataError(
            path, None,
            "file not found; point --data-dir / BIOHARNESS_DATA at the folder that holds "
            f"{path.parent.name}/",
        )
    return path


def _rel(path: Path, data_dir: Path) -> str:
    try:
        return path.relative_to(data_dir).as_posix()
    except ValueError:
        return path.as_posix()


def _field(obj: Any, key: str, path: Path, where) -> Any:
    if not isinstance(obj, dict) or key not in obj:
        raise DataError(path, where, f"missing field {key!r}")
    return obj[key]


_VALIDATION_ALIASES = {"dev", "devel", "val", "valid", "validation"}


def _resolve_split(reader: str, split: str, splits: Sequence[str]) -> str:
    """The reader's own split name for ``split``; validation-set aliases (dev, devel, val,
    valid, validation) map to whichever of them the reader uses."""
    if split in splits:
        return split
    if split in _VALIDATION_ALIASES:
        own = [s for s in splits if s in _VALIDATION_ALIASES]
        if len(own) == 1:
            return own[0]
    raise UsageError(f"reader {reader!r}: unknown split {split!r}; choose from {', '.join(splits)}")


# --------------------------------------------------------------------------- generic formats

def iter_jsonl(path: Path) -> Iterator[tuple[int, dict]]:
    """``(line number, object)`` for each non-blank line of a JSON Lines file."""
    path = _require_file(Path(path))
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(path, lineno, f"invalid JSON ({exc.msg} at column {exc.colno})") from None
            if not isinstance(obj, dict):
                raise DataError(path, lineno, f"expected a JSON object, got {type(obj).__name__}")
            yield lineno, obj


def read_jsonl(path: Path) -> list[dict]:
    """The objects of a JSON Lines file."""
    return [obj for _, obj in iter_jsonl(path)]


def read_json(path: Path) -> Any:
    """A whole JSON document."""
    path = _require_file(Path(path))
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except json.JSONDecodeError as exc:
        raise DataError(path, exc.lineno, f"invalid JSON ({exc.msg} at column {exc.colno})") from None


def iter_csv(
    path: Path,
    *,
    header: bool | Sequence[str] = True,
    delimiter: str = ",",
) -> Iterator[tuple[int, dict[str, str]]]:
    """``(first line number, row)`` for each record of an RFC 4180 CSV file.

    ``header=True``: the first record names the columns. ``header=[...]``: the file has no
    header row and these are the column names. Every record must have exactly as many
    fields as there are columns (a :class:`DataError` names the line otherwise). Quoted
    fields may span lines; the line reported is where the record starts.
    """
    path = _require_file(Path(path))
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter, strict=True)
        columns = None if header is True else list(header)
        start = 1
        try:
            for row in reader:
                lineno, start = start, reader.line_num + 1
                if not row:
                    continue
                if columns is None:
                    columns = row
                    continue
                if len(row) != len(columns):
                    raise DataError(path, lineno, f"expected {len(columns)} columns, found {len(row)}")
                yield lineno, dict(zip(columns, row))
        except csv.Error as exc:
            raise DataError(path, start, f"malformed CSV ({exc})") from None


def iter_tsv(path: Path, *, header: bool | Sequence[str] = True) -> Iterator[tuple[int, dict[str, str]]]:
    """``(line number, row)`` for each line of a tab-separated file without quoting (a
    quote character is ordinary text, as in the ChemProt and GAD files)."""
    path = _require_file(Path(path))
    columns = None if header is True else list(header)
    with open(path, encoding="utf-8-sig", newline="") as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            fields = line.split("\t")
            if columns is None:
                columns = fields
                continue
            if len(fields) != len(columns):
                raise DataError(path, lineno, f"expected {len(columns)} tab-separated columns, found {len(fields)}")
            yield lineno, dict(zip(columns, fields))


@dataclass(frozen=True)
class Sentence:
    """One sentence of a CoNLL file: tokens, IOB2 tags, the line of its first token."""

    tokens: tuple[str, ...]
    tags: tuple[str, ...]
    line: int


def read_conll(path: Path) -> list[Sentence]:
    """Sentences of a two-column CoNLL file (``token<TAB>tag``, blank line between
    sentences, ``-DOCSTART-`` lines skipped and treated as a boundary).

    Tags must be strict IOB2: an ``I-X`` that follows ``O`` or another type is an error
    (a :class:`DataError` with the line of that token).
    """
    path = _require_file(Path(path))
    sentences: list[Sentence] = []
    tokens: list[str] = []
    tags: list[str] = []
    lines: list[int] = []

    def flush():
        if tokens:
            try:
                iob2_spans(tags)
            except TagSequenceError as exc:
                raise DataError(path, lines[exc.index], str(exc)) from None
            sentences.append(Sentence(tuple(tokens), tuple(tags), lines[0]))
        tokens.clear(), tags.clear(), lines.clear()

    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.rstrip("\r\n")
            if not line.strip():
                flush()
                continue
            fields = line.split("\t")
            if fields[0].startswith("-DOCSTART-"):
                flush()
                continue
            if len(fields) != 2 or not fields[0] or not fields[1]:
                raise DataError(path, lineno, f"expected 'token<TAB>tag', found {len(fields)} field(s)")
            tokens.append(fields[0])
            tags.append(fields[1])
            lines.append(lineno)
    flush()
    return sentences


def mentions_from_tags(tokens: Sequence[str], tags: Sequence[str]) -> list[dict]:
    """Gold mentions ``{text, start_token, end_token, type}`` of an IOB2 sentence;
    ``end_token`` is exclusive and ``text`` is the tokens joined with single spaces."""
    return [
        {"text": " ".join(tokens[s:e]), "start_token": s, "end_token": e, "type": t}
        for t, s, e in iob2_spans(tags)
    ]


def read_ddi_xml(path: Path) -> dict:
    """One DDI corpus document: ``{id, sentences: [{id, text, entities: {id: entity},
    pairs: [{id, e1, e2, ddi, type}]}]}``. An entity's ``spans`` are ``[start, end)``
    character ranges (the file's inclusive ``charOffset`` plus one; discontinuous
    mentions have several); ``start``/``end`` cover all of them."""
    path = _require_file(Path(path))
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise DataError(path, exc.position[0], f"malformed XML ({exc})") from None
    doc = {"id": root.get("id"), "sentences": []}
    for s in root.iter("sentence"):
        sid = s.get("id")
        entities = {}
        for e in s.iter("entity"):
            eid = e.get("id")
            try:
                spans = [
                    [int(a), int(b) + 1]
                    for a, b in (part.split("-") for part in e.get("charOffset", "").split(";"))
                ]
            except ValueError:
                raise DataError(path, eid, f"bad charOffset {e.get('charOffset')!r}") from None
            entities[eid] = {
                "id": eid,
                "text": e.get("text"),
                "type": e.get("type"),
                "start": spans[0][0],
                "end": spans[-1][1],
                "spans": spans,
            }
        pairs = []
        for p in s.iter("pair"):
            pid = p.get("id")
            for key in ("e1", "e2"):
                if p.get(key) not in entities:
                    raise DataError(path, pid, f"{key}={p.get(key)!r} is not an entity of sentence {sid}")
            ddi = p.get("ddi")
            if ddi not in ("true", "false"):
                raise DataError(path, pid, f"ddi={ddi!r}, expected true or false")
            if ddi == "true" and not p.get("type"):
                raise DataError(path, pid, "ddi='true' without a type")
            pairs.append({"id": pid, "e1": p.get("e1"), "e2": p.get("e2"), "ddi": ddi == "true", "type": p.get("type")})
        doc["sentences"].append({"id": sid, "text": s.get("text"), "entities": entities, "pairs": pairs})
    return doc


# Strict OOXML (ISO 29500 strict) uses other namespace URIs than the transitional form
# that openpyxl understands; the documents are otherwise the same, so rewriting the URIs in
# memory is enough for reading cell values.
_STRICT_TO_TRANSITIONAL = (
    (b"http://purl.oclc.org/ooxml/spreadsheetml/main", b"http://schemas.openxmlformats.org/spreadsheetml/2006/main"),
    (b"http://purl.oclc.org/ooxml/officeDocument/relationships", b"http://schemas.openxmlformats.org/officeDocument/2006/relationships"),
    (b"http://purl.oclc.org/ooxml/drawingml/main", b"http://schemas.openxmlformats.org/drawingml/2006/main"),
    (b"http://purl.oclc.org/ooxml/officeDocument/extendedProperties", b"http://schemas.openxmlformats.org/officeDocument/2006/extended-properties"),
    (b"http://purl.oclc.org/ooxml/officeDocument/docPropsVTypes", b"http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"),
)


def _transitional_copy(path: Path) -> io.BytesIO | None:
    """An in-memory transitional copy of a Strict OOXML workbook, or None if not strict."""
    with zipfile.ZipFile(path) as src:
        if b"http://purl.oclc.org/ooxml/" not in src.read("xl/workbook.xml"):
            return None
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as dst:
            for info in src.infolist():
                data = src.read(info)
                if info.filename.endswith((".xml", ".rels")):
                    for strict, transitional in _STRICT_TO_TRANSITIONAL:
                        data = data.replace(strict, transitional)
                dst.writestr(info, data)
    buf.seek(0)
    return buf


def read_xlsx(path: Path, sheet: int = 0) -> list[tuple[int, tuple]]:
    """``(row number, values)`` for each non-empty row of one sheet (1-based row numbers,
    trailing empty cells dropped). Strict OOXML workbooks are read too."""
    path = _require_file(Path(path))
    try:
        import openpyxl
    except ImportError:  # pragma: no cover - the bionlp extra installs it
        from bioharness import MissingDependency

        raise MissingDependency(f"reading {path.name}", "bionlp", "openpyxl") from None
    try:
        source = _transitional_copy(path) or path
        wb = openpyxl.load_workbook(source, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        raise DataError(path, None, f"not a readable xlsx workbook ({exc})") from None
    try:
        ws = wb.worksheets[sheet]
        rows = []
        for number, values in enumerate(ws.iter_rows(values_only=True), 1):
            values = list(values)
            while values and values[-1] is None:
                values.pop()
            if values:
                rows.append((number, tuple(values)))
        return rows
    finally:
        wb.close()


def iter_pipe_pairs(path: Path) -> Iterator[tuple[int, str, str]]:
    """``(line number, id, text)`` for each ``id||text`` line (MEDIQA 2021 text files)."""
    path = _require_file(Path(path))
    with open(path, encoding="utf-8-sig", newline="") as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            key, sep, text = line.partition("||")
            if not sep or not key.strip():
                raise DataError(path, lineno, "expected 'id||text'")
            yield lineno, key.strip(), text.strip()


def _xlsx_table(path: Path, columns: Sequence[str]) -> list[tuple[int, dict]]:
    """Rows of a spreadsheet whose first row holds ``columns`` (compared case- and
    separator-insensitively, so ``QuestionID`` matches ``question_id``)."""
    rows = read_xlsx(path)
    if not rows:
        raise DataError(path, "row 1", "empty sheet")

    def key(name) -> str:
        return re.sub(r"[\s_]+", "", str(name)).lower()

    _, head = rows[0]
    if [key(h) for h in head] != [key(c) for c in columns]:
        raise DataError(path, "row 1", f"header {list(head)} does not match {list(columns)}")
    out = []
    for number, values in rows[1:]:
        if len(values) > len(columns):
            raise DataError(path, f"row {number}", f"expected {len(columns)} columns, found {len(values)}")
        values = tuple(values) + (None,) * (len(columns) - len(values))
        out.append((number, dict(zip(columns, values))))
    return out


def _text(value) -> str:
    return "" if value is None else str(value).strip()


# --------------------------------------------------------------------------- MCQA

def read_medqa(data_dir: Path, split: str = "test") -> list[Example]:
    """MedQA-USMLE 4-option (US). inputs: question, options {A..D: text}; reference: the
    letter; ids ``test-<index>`` (the source has no ids)."""
    split = _resolve_split("medqa", split, ("test",))
    data_dir = Path(data_dir)
    path = data_dir / "medqa_usmle_4opt" / "phrases_no_exclude_test.jsonl"
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
                  "source": f"{_rel(path, data_dir)}:{lineno}"},
        ))
    return out


def read_medmcqa(data_dir: Path, split: str = "dev") -> list[Example]:
    """MedMCQA dev (the labelled evaluation split). ``cop`` is 1-based in this file
    (1 = opa); the reference is the letter A-D. Ids are the source ids."""
    split = _resolve_split("medmcqa", split, ("dev",))
    data_dir = Path(data_dir)
    path = data_dir / "medmcqa" / "dev.json"
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
                  "choice_type": row.get("choice_type"), "source": f"{_rel(path, data_dir)}:{lineno}"},
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


def read_mmlu_medical(data_dir: Path, split: str = "test", subjects: Sequence[str] | None = None) -> list[Example]:
    """The six medical MMLU subjects (headerless CSV: question, A, B, C, D, answer).
    Ids ``<subject>-<index>``; ``meta["subject"]``."""
    split = _resolve_split("mmlu_medical", split, ("test",))
    data_dir = Path(data_dir)
    subjects = MMLU_MEDICAL_SUBJECTS if subjects is None else tuple(subjects)
    out = []
    for subject in subjects:
        if subject not in MMLU_MEDICAL_SUBJECTS:
            raise UsageError(f"unknown MMLU medical subject {subject!r}; choose from {', '.join(MMLU_MEDICAL_SUBJECTS)}")
        path = data_dir / "mmlu_medical" / f"{subject}_{split}.csv"
        rows = iter_csv(path, header=("question", "A", "B", "C", "D", "answer"))
        for i, (lineno, row) in enumerate(rows):
            answer = row["answer"].strip()
            if answer not in ("A", "B", "C", "D"):
                raise DataError(path, lineno, f"answer {answer!r} is not A-D")
            out.append(Example(
                id=f"{subject}-{i}",
                inputs={"question": row["question"], "options": {k: row[k] for k in "ABCD"}},
                reference=answer,
                meta={"subject": subject, "source": f"{_rel(path, data_dir)}:{lineno}"},
            ))
    return out


def read_pubmedqa(data_dir: Path, split: str = "test") -> list[Example]:
    """PubMedQA PQA-L. ``test``: the official 500 test PMIDs (``test_ground_truth.json``),
    in that file's order; ``trainval``: the other 500 (the pool the official CV folds come
    from), in ``ori_pqal.json`` order. inputs: question, context (the abstract's sections
    without the conclusion, one per line); reference: yes/no/maybe; id: the PMID."""
    split = _resolve_split("pubmedqa", split, ("test", "trainval"))
    data_dir = Path(data_dir)
    path = data_dir / "pubmedqa" / "ori_pqal.json"
    truth_path = data_dir / "pubmedqa" / "test_ground_truth.json"
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
                  "year": item.get("YEAR"), "source": f"{_rel(path, data_dir)}:{pmid}"},
        ))
    return out


# --------------------------------------------------------------------------- NER

def _read_ner(data_dir: Path, rel: str, split: str, types: Sequence[str]) -> list[Example]:
    data_dir = Path(data_dir)
    path = data_dir / rel / f"{split}.tsv"
    out = []
    for i, sent in enumerate(read_conll(path)):
        mentions = mentions_from_tags(sent.tokens, sent.tags)
        unknown = {m["type"] for m in mentions} - set(types)
        if unknown:
            raise DataError(path, sent.line, f"entity type(s) {sorted(unknown)} not in {list(types)}")
        out.append(Example(
            id=f"{split}-{i}",
            inputs={"text": " ".join(sent.tokens), "tokens": list(sent.tokens)},
            reference=mentions,
            meta={"entity_types": list(types), "source": f"{_rel(path, data_dir)}:{sent.line}"},
        ))
    return out


_NER_SPLITS = ("test", "devel")


def read_bc5cdr(data_dir: Path, split: str = "test") -> list[Example]:
    """BC5CDR, chemicals and diseases together (``BC5CDR-IOB``). NER inputs: text (tokens
    joined with spaces) and tokens; reference: gold mentions ``{text, start_token,
    end_token (exclusive), type}``; ids ``<split>-<sentence index>``."""
    split = _resolve_split("bc5cdr", split, _NER_SPLITS)
    return _read_ner(data_dir, "bc5cdr/BC5CDR-IOB", split, ("Chemical", "Disease"))


def read_bc5cdr_chem(data_dir: Path, split: str = "test") -> list[Example]:
    """BC5CDR chemicals only (BLURB BC5-chem, ``BC5CDR-chem-IOB``)."""
    split = _resolve_split("bc5cdr_chem", split, _NER_SPLITS)
    return _read_ner(data_dir, "bc5cdr/BC5CDR-chem-IOB", split, ("Chemical",))


def read_bc5cdr_disease(data_dir: Path, split: str = "test") -> list[Example]:
    """BC5CDR diseases only (BLURB BC5-disease, ``BC5CDR-disease-IOB``)."""
    split = _resolve_split("bc5cdr_disease", split, _NER_SPLITS)
    return _read_ner(data_dir, "bc5cdr/BC5CDR-disease-IOB", split, ("Disease",))


def read_ncbi_disease(data_dir: Path, split: str = "test") -> list[Example]:
    """NCBI-disease (single type ``Disease``)."""
    split = _resolve_split("ncbi_disease", split, _NER_SPLITS)
    return _read_ner(data_dir, "ncbi_disease", split, ("Disease",))


def read_bc2gm(data_dir: Path, split: str = "test") -> list[Example]:
    """BC2GM gene mentions (single type ``GENE``, primary annotation only)."""
    split = _resolve_split("bc2gm", split, _NER_SPLITS)
    return _read_ner(data_dir, "bc2gm", split, ("GENE",))


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


def read_ddi2013(data_dir: Path, split: str = "test") -> list[Example]:
    """DDIExtraction 2013 test, one example per candidate pair (5,716). Labels are
    BLURB's: ``DDI-mechanism``, ``DDI-effect``, ``DDI-advise``, ``DDI-int`` and the negative
    ``DDI-false``. inputs: text (the sentence), text_marked (with [E1]/[E2] markers), e1 and
    e2 (``{id, text, type, start, end, spans}``, end exclusive). Ids are the pair ids;
    documents are read DrugBank then MedLine, each in file-name order."""
    split = _resolve_split("ddi2013", split, ("test",))
    data_dir = Path(data_dir)
    root = data_dir / "ddi2013" / "Test_DDI_Extraction"
    files = sorted(root.glob("*/*.xml"), key=lambda p: (p.parent.name, p.name))
    if not files:
        raise DataError(root, None, "no DDI XML documents found")
    out = []
    for path in files:
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
                          "source": f"{_rel(path, data_dir)}:{pair['id']}"},
                ))
    return out


def read_chemprot(data_dir: Path, split: str = "test") -> list[Example]:
    """ChemProt, CPR-group version (``test_cpr_bioelectra.tsv``, 14,396 candidate pairs):
    labels ``CPR:3|4|5|6|9`` and the negative ``False``. The sentence has the target
    chemical replaced by ``BC6ENTC``, the target gene by ``BC6ENTG`` and other entities by
    ``BC6OTHER``; inputs: text. Ids ``test-<index>``."""
    split = _resolve_split("chemprot", split, ("test",))
    data_dir = Path(data_dir)
    path = data_dir / "chemprot" / "test_cpr_bioelectra.tsv"
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
            meta={"source": f"{_rel(path, data_dir)}:{lineno}"},
        ))
    return out


_SCIBERT_E1 = re.compile(r"<< (.+?) >>")
_SCIBERT_E2 = re.compile(r"\[\[ (.+?) \]\]")


def read_chemprot_scibert(data_dir: Path, split: str = "test") -> list[Example]:
    """ChemProt, SciBERT version (``test.txt`` 3,469 / ``dev.txt`` 2,427): positive pairs
    only, fine-grained labels (INHIBITOR, SUBSTRATE, ...). The text wraps the first
    argument in ``<< >>`` and the second in ``[[ ]]``; either can be the chemical or the
    protein, so inputs name them e1 and e2."""
    split = _resolve_split("chemprot_scibert", split, ("test", "dev"))
    data_dir = Path(data_dir)
    path = data_dir / "chemprot" / f"{split}.txt"
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
            meta={"source": f"{_rel(path, data_dir)}:{lineno}"},
        ))
    return out


def read_gad(data_dir: Path, split: str = "test", source: str = "blurb") -> list[Example]:
    """GAD, BLURB split (test 534, dev 535). Labels ``positive``/``negative``; the gene is
    masked as ``@GENE$`` and the disease as ``@DISEASE$``. ``source="blurb"`` reads the
    JSON-lines files (ids ``test_0``...; inputs: text, e1, e2 with ``[start, end)``
    offsets); ``source="biobert"`` reads the BioBERT ``test.tsv`` (same sentences in the
    same order, labels 1/0 mapped to positive/negative, ids ``test_<index>``)."""
    split = _resolve_split("gad", split, ("test", "dev"))
    data_dir = Path(data_dir)
    out = []
    if source == "biobert":
        if split != "test":
            raise UsageError("GAD source 'biobert' has only the test split")
        path = data_dir / "gad" / "test.tsv"
        for lineno, row in iter_tsv(path):
            if row.get("label") not in ("0", "1"):
                raise DataError(path, lineno, f"label {row.get('label')!r} is not 0 or 1")
            out.append(Example(
                id=f"{split}_{row['index']}",
                inputs={"text": row["sentence"]},
                reference="positive" if row["label"] == "1" else "negative",
                meta={"source": f"{_rel(path, data_dir)}:{lineno}"},
            ))
        return out
    if source != "blurb":
        raise UsageError(f"GAD source {source!r}: choose 'blurb' or 'biobert'")
    path = data_dir / "gad" / f"{split}_blurb.jsonl"
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
            meta={"source": f"{_rel(path, data_dir)}:{lineno}"},
        ))
    return out


# --------------------------------------------------------------------------- summarisation

def read_meqsum(data_dir: Path, split: str = "all") -> list[Example]:
    """MeQSum: 1,000 consumer health questions (CHQ) with one-sentence summaries; no
    official split, so the only split is ``all``. Ids are the ``File`` column."""
    split = _resolve_split("meqsum", split, ("all",))
    data_dir = Path(data_dir)
    path = data_dir / "meqsum" / "MeQSum_ACL2019_BenAbacha_Demner-Fushman.xlsx"
    out = []
    for number, row in _xlsx_table(path, ("File", "CHQ", "Summary")):
        if not _text(row["File"]) or not _text(row["CHQ"]) or not _text(row["Summary"]):
            raise DataError(path, f"row {number}", "empty File, CHQ or Summary")
        out.append(Example(
            id=_text(row["File"]),
            inputs={"question": _text(row["CHQ"])},
            reference=_text(row["Summary"]),
            meta={"source": f"{_rel(path, data_dir)}:row {number}"},
        ))
    return out


def read_mediqa_qs(data_dir: Path, split: str = "test") -> list[Example]:
    """MEDIQA 2021 question summarisation: ``val`` (50, also gives question focus and
    type in meta) and ``test`` (100). Ids are the ``q_id`` column."""
    split = _resolve_split("mediqa_qs", split, ("val", "test"))
    data_dir = Path(data_dir)
    folder = data_dir / "mediqa2021_qs"
    if split == "val":
        path = folder / "MEDIQA2021-Task1-QuestionSummarization-ValidationSet.xlsx"
        columns = ("q_id", "NLM Question", "Summary", "Question Focus", "Question Type")
    else:
        path = folder / "MEDIQA2021-Task1-TestSet-ReferenceSummaries.xlsx"
        columns = ("q_id", "NLM Question", "Summary")
    out = []
    for number, row in _xlsx_table(path, columns):
        meta = {"source": f"{_rel(path, data_dir)}:row {number}"}
        if split == "val":
            meta.update(focus=_text(row["Question Focus"]), type=_text(row["Question Type"]))
        out.append(Example(
            id=_text(row["q_id"]),
            inputs={"question": _text(row["NLM Question"])},
            reference=_text(row["Summary"]),
            meta=meta,
        ))
    return out


def read_mediqa_mas(data_dir: Path, split: str = "test") -> list[Example]:
    """MEDIQA 2021 multi-answer summarisation: ``val`` (50 questions) and ``test`` (80).
    inputs: question (the short question), answers (list, spreadsheet order); reference:
    the abstractive multi-answer summary; meta: the extractive one and the answer ids.
    The validation answers workbook is Strict OOXML (see :func:`read_xlsx`)."""
    split = _resolve_split("mediqa_mas", split, ("val", "test"))
    data_dir = Path(data_dir)
    if split == "val":
        folder = data_dir / "mediqa2021_mas" / "Validation"
        answers_path = folder / "MEDIQA2021_Task2_ValidationSet_Answers.xlsx"
        questions_path = folder / "MEDIQA2021_Task2_VAlidationSet_ShortQuestions.txt"
        abstractive = folder / "MEDIQA2021_Task2_ValidationSet_MultiAbstrativeSummaries.txt"
        extractive = folder / "MEDIQA2021_Task2_ValidationSet_MultiExtractiveSummaries.txt"
    else:
        folder = data_dir / "mediqa2021_mas" / "Test"
        answers_path = folder / "MEDIQA2021_Task2_MAS_TestSet_Answers.xlsx"
        questions_path = folder / "MEDIQA2021_Task2_MAS_TestSet_shortQuestions.txt"
        abstractive = folder / "MEDIQA2021_Task2_TestSet_MultiAbstrativeSummaries.txt"
        extractive = folder / "MEDIQA2021_Task2_TestSet_MultiExtractiveSummaries.txt"

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
                  "source": f"{_rel(questions_path, data_dir)}:{lineno}"},
        ))
    return out


_MTS_FILES = {
    "test1": "MTS-Dialog-TestSet-1-MEDIQA-Chat-2023.csv",
    "test2": "MTS-Dialog-TestSet-2-MEDIQA-Sum-2023.csv",
    "val": "MTS-Dialog-ValidationSet.csv",
}


def read_mts_dialog(data_dir: Path, split: str = "test1") -> list[Example]:
    """MTS-Dialog: dialogue → one clinical note section. Splits ``test1`` (MEDIQA-Chat
    2023 Task A), ``test2`` (MEDIQA-Sum 2023), ``val``. inputs: dialogue, section_header
    (GENHX, CC, ...); reference: section_text; ids ``<split>-<ID>``."""
    split = _resolve_split("mts_dialog", split, tuple(_MTS_FILES))
    data_dir = Path(data_dir)
    path = data_dir / "mts_dialog" / _MTS_FILES[split]
    out = []
    for lineno, row in iter_csv(path):
        for key in ("ID", "section_header", "section_text", "dialogue"):
            _field(row, key, path, 1)
        out.append(Example(
            id=f"{split}-{row['ID'].strip()}",
            inputs={"dialogue": row["dialogue"].strip(), "section_header": row["section_header"].strip()},
            reference=row["section_text"].strip(),
            meta={"section_header": row["section_header"].strip(), "source": f"{_rel(path, data_dir)}:{lineno}"},
        ))
    return out


_ACI_FILES = {
    "valid": "valid",
    "test1": "clinicalnlp_taskB_test1",
    "test2": "clinicalnlp_taskC_test2",
    "test3": "clef_taskC_test3",
}


def read_aci_bench(data_dir: Path, split: str = "test1") -> list[Example]:
    """ACI-Bench: full doctor-patient dialogue → full visit note. Splits ``valid`` (20) and
    ``test1``/``test2``/``test3`` (40 each: MEDIQA-Chat Task B, Task C, MEDIQA-Sum Task C).
    inputs: dialogue; reference: note; ids are the encounter ids; meta adds the
    sub-source (virtassist/virtscribe/aci) and the metadata CSV's fields."""
    split = _resolve_split("aci_bench", split, tuple(_ACI_FILES))
    data_dir = Path(data_dir)
    path = data_dir / "aci_bench" / f"{_ACI_FILES[split]}.csv"
    meta_path = data_dir / "aci_bench" / f"{_ACI_FILES[split]}_metadata.csv"
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
            meta={"dataset": row.get("dataset"), **extra.get(eid, {}), "source": f"{_rel(path, data_dir)}:{lineno}"},
        ))
    return out


# --------------------------------------------------------------------------- registry

@dataclass(frozen=True)
class Reader:
    """A dataset reader as a task spec names it: ``READERS[name](data_dir, split)``."""

    name: str
    fn: Callable[..., list[Example]]
    splits: tuple[str, ...]
    kind: str

    def __call__(self, data_dir: Path, split: str, **options) -> list[Example]:
        return self.fn(Path(data_dir), split, **options)


READERS: dict[str, Reader] = {
    r.name: r
    for r in (
        Reader("medqa", read_medqa, ("test",), "mcqa"),
        Reader("medmcqa", read_medmcqa, ("dev",), "mcqa"),
        Reader("mmlu_medical", read_mmlu_medical, ("test",), "mcqa"),
        Reader("pubmedqa", read_pubmedqa, ("test", "trainval"), "mcqa"),
        Reader("bc5cdr", read_bc5cdr, _NER_SPLITS, "ner"),
        Reader("bc5cdr_chem", read_bc5cdr_chem, _NER_SPLITS, "ner"),
        Reader("bc5cdr_disease", read_bc5cdr_disease, _NER_SPLITS, "ner"),
        Reader("ncbi_disease", read_ncbi_disease, _NER_SPLITS, "ner"),
        Reader("bc2gm", read_bc2gm, _NER_SPLITS, "ner"),
        Reader("ddi2013", read_ddi2013, ("test",), "re"),
        Reader("chemprot", read_chemprot, ("test",), "re"),
        Reader("chemprot_scibert", read_chemprot_scibert, ("test", "dev"), "re"),
        Reader("gad", read_gad, ("test", "dev"), "re"),
        Reader("meqsum", read_meqsum, ("all",), "summarization"),
        Reader("mediqa_qs", read_mediqa_qs, ("val", "test"), "summarization"),
        Reader("mediqa_mas", read_mediqa_mas, ("val", "test"), "summarization"),
        Reader("mts_dialog", read_mts_dialog, tuple(_MTS_FILES), "summarization"),
        Reader("aci_bench", read_aci_bench, tuple(_ACI_FILES), "summarization"),
    )
}
