"""Parsers of generic file formats: JSON lines, JSON, CSV/TSV, CoNLL, xlsx, DDI XML.

Each gives plain Python records with where they came from (line or row numbers); the
readers in :mod:`.generic` and :mod:`.datasets` turn them into examples. Malformed input
raises :class:`bioharness.DataError` naming the file and the line.
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
from typing import Any, Iterator, Sequence

from bioharness import DataError, MissingDependency, UsageError, open_text

from ..spans import TagSequenceError, iob2_spans

def _require_file(path: Path) -> Path:
    if not path.is_file():
        raise DataError(
            path, None,
            "file not found; point --data-dir / BIOHARNESS_DATA at the folder that holds "
            f"{path.parent.name}/",
        )
    return path


def _rel(path: Path, root: Path | None) -> str:
    """``path`` relative to ``root`` (the data directory) when it lies there, else as given."""
    try:
        return Path(path).relative_to(root).as_posix() if root is not None else Path(path).as_posix()
    except ValueError:
        return Path(path).as_posix()


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



def iter_jsonl(path: Path) -> Iterator[tuple[int, dict]]:
    """``(line number, object)`` for each non-blank line of a JSON Lines file."""
    path = _require_file(Path(path))
    with open_text(path) as fh:
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
        with open_text(path) as fh:
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
    with open_text(path, newline="") as fh:
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
    with open_text(path, newline="") as fh:
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
    """One sentence of a CoNLL file: tokens, IOB2 tags, the line of its first token, and
    the index of its document (``-DOCSTART-`` lines start a new one)."""

    tokens: tuple[str, ...]
    tags: tuple[str, ...]
    line: int
    document: int = 0


#: tagging schemes :func:`read_conll` reads (every one is returned as IOB2)
SCHEMES = ("iob2", "iob1", "bioes")
SEPARATORS = {"tab": "\t", "whitespace": None}


def _prefix(tag: str, index: int, letters: str) -> tuple[str, str]:
    if tag == "O":
        return "O", ""
    if len(tag) > 2 and tag[0] in letters and tag[1] == "-":
        return tag[0], tag[2:]
    raise TagSequenceError(index, f"tag {tag!r} is not O or {', '.join(f'{c}-<type>' for c in letters)}")


def to_iob2(tags: Sequence[str], scheme: str = "iob2") -> list[str]:
    """``tags`` in ``scheme`` rewritten as strict IOB2, or :class:`TagSequenceError` at the
    first tag the scheme forbids.

    * ``iob2``: every entity starts with ``B-X``; ``I-X`` only continues an ``X``.
    * ``iob1`` (CoNLL-2003 original): an entity starts with ``I-X``; ``B-X`` only where an
      ``X`` entity directly follows another ``X`` entity.
    * ``bioes``: ``B-X I-X* E-X`` for several tokens, ``S-X`` for one.
    """
    if scheme == "iob2":
        iob2_spans(tags)
        return list(tags)
    out: list[str] = []
    if scheme == "iob1":
        previous = ""
        for i, tag in enumerate(tags):
            prefix, type_ = _prefix(tag, i, "BI")
            if prefix == "B" and previous != type_:
                raise TagSequenceError(i, f"{tag!r} does not follow an entity of type {type_!r}; IOB1 starts entities with I-")
            out.append("O" if prefix == "O" else f"{'I' if prefix == 'I' and previous == type_ else 'B'}-{type_}")
            previous = type_
        return out
    if scheme != "bioes":
        raise ValueError(f"unknown tagging scheme {scheme!r} (known: {', '.join(SCHEMES)})")
    open_type = None
    for i, tag in enumerate(tags):
        prefix, type_ = _prefix(tag, i, "BIES")
        if open_type is not None and (prefix not in "IE" or type_ != open_type):
            raise TagSequenceError(i, f"{tag!r} follows an unfinished entity of type {open_type!r}; BIOES needs I-{open_type} or E-{open_type}")
        if open_type is None and prefix in "IE":
            raise TagSequenceError(i, f"{tag!r} does not continue an entity; BIOES needs B-{type_} first")
        out.append("O" if prefix == "O" else f"{'B' if prefix in 'BS' else 'I'}-{type_}")
        open_type = type_ if prefix in "BI" else None
    if open_type is not None:
        raise TagSequenceError(len(tags) - 1, f"the entity of type {open_type!r} does not end (BIOES needs E-{open_type})")
    return out


def read_conll(path: Path, *, scheme: str = "iob2", token_column: int = 0, tag_column: int = -1,
               separator: str = "tab") -> list[Sentence]:
    """Sentences of a CoNLL file: one token per line, columns split by a tab (or by
    whitespace, ``separator="whitespace"``), ``token_column`` and ``tag_column`` (0-based,
    negative counts from the end) naming the columns; a blank line ends a sentence and a
    ``-DOCSTART-`` line ends a document. Every line has as many columns as the first.

    Tags are read in ``scheme`` (:data:`SCHEMES`) and returned as IOB2; a tag the scheme
    forbids is a :class:`DataError` with the line of that token.
    """
    path = _require_file(Path(path))
    sep = SEPARATORS[separator]
    sentences: list[Sentence] = []
    tokens: list[str] = []
    tags: list[str] = []
    lines: list[int] = []
    width = None
    document = 0

    def flush():
        if tokens:
            try:
                iob2 = to_iob2(tags, scheme)
            except TagSequenceError as exc:
                raise DataError(path, lines[exc.index], str(exc)) from None
            sentences.append(Sentence(tuple(tokens), tuple(iob2), lines[0], document))
        tokens.clear(), tags.clear(), lines.clear()

    with open_text(path) as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.rstrip("\r\n")
            if not line.strip():
                flush()
                continue
            fields = line.split(sep)
            if fields[0].startswith("-DOCSTART-"):
                flush()
                document += 1 if sentences else 0
                continue
            if width is None:
                width = len(fields)
                if width < 2 or not -width <= token_column < width or not -width <= tag_column < width:
                    raise DataError(path, lineno, f"found {width} column(s); token column {token_column} and tag "
                                                  f"column {tag_column} need more")
            if len(fields) != width or not fields[token_column] or not fields[tag_column]:
                want = "'token<TAB>tag'" if width == 2 and sep == "\t" else f"{width} columns"
                raise DataError(path, lineno, f"expected {want}, found {len(fields)} field(s)")
            tokens.append(fields[token_column])
            tags.append(fields[tag_column])
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
    with open_text(path, newline="") as fh:
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

