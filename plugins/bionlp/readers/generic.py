"""Readers of generic formats, for datasets bioharness does not ship: a task spec names one
in ``data.reader``, lists its files in ``data.files`` and sets its options in
``data.options`` (the README's "Write a task plugin" documents each option).

* ``conll``: one token per line, IOB1/IOB2/BIOES tags, for ``ner`` tasks;
* ``pubtator`` and ``bioc`` (JSON or XML): documents with mentions and relations, for
  ``ner`` (one example per document) and ``re`` (one example per candidate concept pair);
* ``jsonl``, ``json``, ``csv``, ``tsv``, ``xlsx`` and ``hf`` (a Hugging Face dataset):
  records, one example each, through a field mapping.

Every example's ``meta["source"]`` says where it came from: ``file:line`` (``file:row N``
for spreadsheets, ``file:document ID`` for BioC).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Sequence

from bioharness import DataError, Example, UsageError

from . import documents as D
from .formats import (SCHEMES, SEPARATORS, _rel, iter_csv, iter_jsonl, iter_tsv, mentions_from_tags, read_conll,
                      read_json, read_xlsx)

_TRUE = ("1", "true", "yes", "on")


def _check_types(options: Mapping[str, Any]) -> None:
    keep, rename = options.get("keep"), options.get("rename")
    if keep is not None and not all(isinstance(t, str) and t for t in keep):
        raise ValueError("keep: expected a list of entity type names")
    if rename is not None and not all(isinstance(v, str) and v for v in rename.values()):
        raise ValueError("rename: expected a mapping type -> new type name")


class FormatReader:
    """Base of the format readers: no default files, no splits of its own."""

    name = ""
    description = ""
    kinds: tuple[str, ...] = ()
    splits: tuple[str, ...] = ()
    options: Mapping[str, tuple] = {}
    needs_files = True

    def default_files(self, split: str, **options) -> list[str]:
        return []

    def check(self, options: Mapping[str, Any]) -> None:
        """Reject bad option values: ``ValueError("KEY: what was expected")``."""

    def read(self, files: Sequence[Path], split: str, kind: str | None = None, root: Path | None = None,
             **options) -> list[Example]:
        raise NotImplementedError


# --------------------------------------------------------------------------- conll

TYPE_OPTIONS = {
    "keep": (list, "entity types to keep (after rename); the others are dropped"),
    "rename": (dict, "entity type -> the name to use instead"),
}


def conll_examples(files: Sequence[Path], split: str, root: Path | None = None, *, scheme: str = "iob2",
                   token_column: int = 0, tag_column: int = -1, separator: str = "tab", keep=None, rename=None,
                   unit: str = "sentence", types: Sequence[str] | None = None) -> list[Example]:
    """NER examples from CoNLL files (see :class:`ConllReader`); ``types``: the dataset's
    complete type list, where another type is an error rather than dropped."""
    out = []
    for path in files:
        sentences = read_conll(path, scheme=scheme, token_column=token_column, tag_column=tag_column,
                               separator=separator)
        groups = [[s] for s in sentences]
        if unit == "document":
            groups = {}
            for s in sentences:
                groups.setdefault(s.document, []).append(s)
            groups = list(groups.values())
        for group in groups:
            tokens, mentions = [], []
            for sent in group:
                for m in mentions_from_tags(sent.tokens, sent.tags):
                    if types is not None and m["type"] not in types:
                        raise DataError(path, sent.line, f"entity type(s) {[m['type']]} not in {list(types)}")
                    type_ = D.retype(m["type"], keep, rename)
                    if type_ is not None:
                        mentions.append({**m, "type": type_, "start_token": m["start_token"] + len(tokens),
                                         "end_token": m["end_token"] + len(tokens)})
                tokens += sent.tokens
            meta = {"source": f"{_rel(path, root)}:{group[0].line}"}
            if types is not None:
                meta = {"entity_types": list(types), **meta}
            elif keep is not None:
                meta = {"entity_types": list(keep), **meta}
            out.append(Example(id=f"{split}-{len(out)}", inputs={"text": " ".join(tokens), "tokens": tokens},
                               reference=mentions, meta=meta))
    return out


class ConllReader(FormatReader):
    name = "conll"
    description = "CoNLL token-per-line NER files (IOB1/IOB2/BIOES)"
    kinds = ("ner",)
    options = {
        "scheme": (str, f"tagging scheme: {', '.join(SCHEMES)} (default iob2)"),
        "token_column": (int, "0-based column of the token (default 0; negative counts from the end)"),
        "tag_column": (int, "0-based column of the tag (default -1, the last)"),
        "separator": (str, "what splits the columns: tab (default) or whitespace"),
        "unit": (str, "one example per sentence (default) or per document (-DOCSTART- to -DOCSTART-)"),
        **TYPE_OPTIONS,
    }

    def check(self, options):
        if options.get("scheme", "iob2") not in SCHEMES:
            raise ValueError(f"scheme: expected one of {', '.join(SCHEMES)}")
        if options.get("separator", "tab") not in SEPARATORS:
            raise ValueError(f"separator: expected one of {', '.join(SEPARATORS)}")
        if options.get("unit", "sentence") not in ("sentence", "document"):
            raise ValueError("unit: expected sentence or document")
        _check_types(options)

    def read(self, files, split, kind=None, root=None, **options):
        return conll_examples(files, split, root, **options)


# --------------------------------------------------------------------------- documents

DOCUMENT_OPTIONS = {
    **TYPE_OPTIONS,
    "pairs": (list, "re: the entity type pairs that make candidates, e.g. [[Chemical, Disease]] (default: every "
                    "pair of two different types)"),
    "relations": (list, "re: the relation types to read (default: all); others count as no relation"),
    "negative": (str, "re: the label of a candidate pair with no relation (default: none)"),
    "directed": (bool, "re: a relation holds from its first to its second concept only (default false)"),
    "negative_ratio": ((int, float), "re: keep at most this many negatives per positive, sampled (default: all)"),
    "seed": (int, "re: seed of the negative sampling (default 13)"),
    "relation_columns": (list, "re: names of what relation lines give after the two ids, into the example's meta "
                               "(default [novelty], BioRED's Novel/No)"),
}


class DocumentReader(FormatReader):
    """Documents with mentions and relations (PubTator, BioC): ``ner`` examples (one per
    document) or ``re`` examples (one per candidate concept pair), as the task's kind asks."""

    kinds = ("ner", "re")
    options = DOCUMENT_OPTIONS

    def check(self, options):
        _check_types(options)
        for pair in options.get("pairs") or ():
            if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(t, str) for t in pair)):
                raise ValueError("pairs: expected a list of [type, type] pairs")
        if options.get("negative_ratio", 1) < 0:
            raise ValueError("negative_ratio: must be >= 0")
        if not all(isinstance(name, str) and name for name in options.get("relation_columns") or ()):
            raise ValueError("relation_columns: expected a list of names")

    def documents(self, path: Path, root: Path | None) -> list[D.Document]:
        raise NotImplementedError

    def read(self, files, split, kind=None, root=None, **options):
        docs = [doc for path in files for doc in self.documents(Path(path), root)]
        if kind == "re":
            return D.relation_examples(docs, **options)
        return D.mention_examples(docs, keep=options.get("keep"), rename=options.get("rename"))


class PubtatorReader(DocumentReader):
    name = "pubtator"
    description = "PubTator documents: title|abstract lines, mention and relation lines"

    def documents(self, path, root):
        return D.read_pubtator(path, _rel(path, root))


class BiocReader(DocumentReader):
    name = "bioc"
    description = "BioC collections, XML or JSON (by the file's first character)"

    def documents(self, path, root):
        return D.read_bioc(path, _rel(path, root))


# --------------------------------------------------------------------------- records

REFERENCE_FIELDS = ("reference", "answer", "label", "summary", "target")

RECORD_OPTIONS = {
    "fields": (dict, "example field -> the record's field: id, reference (or answer/label/summary/target), and "
                     "prompt fields (question, context, text, options...); default: every field as it is"),
    "meta": (list, "record fields copied into the example's meta"),
    "split_field": (str, "a field naming each record's split: only the task's split is read"),
    "index_base": (int, "mcqa: an integer answer counts options from 0 (default) or 1"),
}


def _letters(n: int) -> str:
    return "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[:n]


class RecordReader(FormatReader):
    """Records (dicts) -> examples through ``fields``; see :data:`RECORD_OPTIONS`."""

    options = RECORD_OPTIONS

    def check(self, options):
        fields = options.get("fields") or {}
        refs = [k for k in fields if k in REFERENCE_FIELDS]
        if len(refs) > 1:
            raise ValueError(f"fields: name one reference field, not {', '.join(refs)}")
        for key, value in fields.items():
            if not (isinstance(value, str) or (key == "options" and isinstance(value, list))):
                raise ValueError(f"fields.{key}: expected a field name" + (" or a list of them" if key == "options" else ""))
        if options.get("index_base", 0) not in (0, 1):
            raise ValueError("index_base: expected 0 or 1")

    def records(self, path: Path, options) -> list[tuple[Any, dict]]:
        """``(line or row, record)`` for each record of ``path``."""
        raise NotImplementedError

    def read(self, files, split, kind=None, root=None, **options):
        out = []
        for path in files:
            label = _rel(path, root)
            for where, record in self.records(Path(path), options):
                example = self.example(record, options, kind, split, len(out), f"{label}:{where}", path, where)
                if example is not None:
                    out.append(example)
        ids = [e.id for e in out]
        if len(set(ids)) != len(ids):
            dup = next(i for i in ids if ids.count(i) > 1)
            raise DataError(files[0] if files else self.name, None, f"example id {dup!r} occurs twice")
        return out

    def example(self, record, options, kind, split, index, source, path, where) -> Example | None:
        if not isinstance(record, dict):
            raise DataError(path, where, f"expected a record (mapping), got {type(record).__name__}")
        split_field = options.get("split_field")
        if split_field:
            if split_field not in record:
                raise DataError(path, where, f"missing field {split_field!r} (data.options.split_field)")
            if str(record[split_field]) != split:
                return None
        fields = dict(options.get("fields") or {})
        ref_key = next((k for k in fields if k in REFERENCE_FIELDS), None)
        if not fields:
            ref_key = next((k for k in REFERENCE_FIELDS if k in record), None)
            fields = {k: k for k in record if k != split_field}
            if "id" in record:
                fields["id"] = "id"
        if ref_key is None:
            raise DataError(path, where, f"no reference field: map one of {', '.join(REFERENCE_FIELDS)} in "
                                         "data.options.fields")

        def get(name):
            if name not in record:
                raise DataError(path, where, f"missing field {name!r}")
            return record[name]

        inputs = {}
        for key, name in fields.items():
            if key in ("id", ref_key):
                continue
            inputs[key] = [get(n) for n in name] if isinstance(name, list) else get(name)
        reference = get(fields[ref_key])
        if kind == "mcqa" and "options" in inputs:
            inputs["options"], reference = self._mcqa(inputs["options"], reference, options, path, where)
        meta = {name: record.get(name) for name in options.get("meta") or ()}
        meta["source"] = source
        ident = str(get(fields["id"])) if "id" in fields else f"{split}-{index}"
        return Example(id=ident, inputs=inputs, reference=reference, meta=meta)

    @staticmethod
    def _mcqa(opts, answer, options, path, where):
        """Options as ``{letter: text}``; the answer as a letter (given as a letter, an
        index, or the text of an option)."""
        if isinstance(opts, str):
            raise DataError(path, where, "options: expected a list or a mapping, got a string")
        if isinstance(opts, list):
            opts = dict(zip(_letters(len(opts)), opts))
        opts = {str(k): v for k, v in opts.items()}
        if isinstance(answer, str) and answer.strip() in opts:
            return opts, answer.strip()
        index = answer if isinstance(answer, int) and not isinstance(answer, bool) else None
        if index is None and isinstance(answer, str) and answer.strip().isdigit():
            index = int(answer.strip())
        if index is not None:
            index -= options.get("index_base", 0)
            if 0 <= index < len(opts):
                return opts, list(opts)[index]
        for letter, text in opts.items():
            if isinstance(answer, str) and str(text).strip() == answer.strip():
                return opts, letter
        raise DataError(path, where, f"answer {answer!r} is not an option letter, index or option text")


class JsonlReader(RecordReader):
    name = "jsonl"
    description = "JSON lines, one record per line"

    def records(self, path, options):
        return list(iter_jsonl(path))


class JsonReader(RecordReader):
    name = "json"
    description = "a JSON document: a list of records, or an object id -> record"
    options = {**RECORD_OPTIONS, "records": (str, "dotted path to the list (or object) of records, e.g. data.items")}

    def records(self, path, options):
        data = read_json(path)
        for key in filter(None, (options.get("records") or "").split(".")):
            if not isinstance(data, dict) or key not in data:
                raise DataError(path, f"records.{key}", "no such key in the JSON document")
            data = data[key]
        if isinstance(data, dict):  # id -> record: the key is the id unless the record has one
            return [(key, {"id": key, **rec} if isinstance(rec, dict) else rec) for key, rec in data.items()]
        if not isinstance(data, list):
            raise DataError(path, None, f"expected a list of records or an object, got {type(data).__name__}")
        return [(f"record {i}", rec) for i, rec in enumerate(data)]


class CsvReader(RecordReader):
    name = "csv"
    description = "comma-separated values (RFC 4180 quoting), header row first"
    options = {**RECORD_OPTIONS, "delimiter": (str, "one character (default ,)"),
               "header": ((bool, list), "true: the first row names the columns (default); a list: the names")}

    def check(self, options):
        super().check(options)
        if len(options.get("delimiter", ",")) != 1:
            raise ValueError("delimiter: expected one character")
        if options.get("header") is False:
            raise ValueError("header: false needs the column names: give a list")

    def records(self, path, options):
        return list(iter_csv(path, header=options.get("header", True), delimiter=options.get("delimiter", ",")))


class TsvReader(CsvReader):
    name = "tsv"
    description = "tab-separated values without quoting, header row first"
    options = {**RECORD_OPTIONS, "header": CsvReader.options["header"]}

    def records(self, path, options):
        return list(iter_tsv(path, header=options.get("header", True)))


class XlsxReader(RecordReader):
    name = "xlsx"
    description = "an Excel workbook: one sheet, header row first"
    options = {**RECORD_OPTIONS, "sheet": ((int, str), "the sheet: 0-based index (default 0) or name")}

    def records(self, path, options):
        rows = read_xlsx(path, options.get("sheet", 0))
        if not rows:
            raise DataError(path, "row 1", "empty sheet")
        head = [str(h).strip() if h is not None else "" for h in rows[0][1]]
        out = []
        for number, values in rows[1:]:
            if len(values) > len(head):
                raise DataError(path, f"row {number}", f"expected {len(head)} columns, found {len(values)}")
            values = [v.strip() if isinstance(v, str) else v for v in values] + [None] * (len(head) - len(values))
            out.append((f"row {number}", dict(zip(head, values))))
        return out


class HubReader(RecordReader):
    """A Hugging Face ``datasets`` dataset; needs the package and the hub (or its cache)."""

    name = "hf"
    description = "a Hugging Face dataset (id, config, split); needs the datasets package and the hub"
    options = {**RECORD_OPTIONS, "path": (str, "the dataset id (required)"), "name": (str, "the config"),
               "split": (str, "the hub's split name (default: the task's split)")}
    needs_files = False

    def check(self, options):
        super().check(options)
        if not options.get("path"):
            raise ValueError("path: the dataset id is required")

    def read(self, files, split, kind=None, root=None, **options):
        what = f"reader hf: dataset {options['path']}"
        if os.environ.get("HF_HUB_OFFLINE", "").lower() in _TRUE:
            raise UsageError(f"{what} not loaded: HF_HUB_OFFLINE is set (unset it, or use a local copy with "
                             "another reader)")
        try:
            from datasets import load_dataset
        except ImportError:
            raise UsageError(f"{what} needs the 'datasets' package (pip install datasets)") from None
        hub_split = options.get("split") or split
        try:
            rows = load_dataset(options["path"], options.get("name"), split=hub_split)
        except Exception as exc:  # network, unknown id: one line
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise UsageError(f"{what} could not be loaded: {first}") from None
        source = f"hf:{options['path']}"
        out = []
        for i, row in enumerate(rows):
            example = self.example(dict(row), options, kind, split, len(out), f"{source}:row {i}", source, f"row {i}")
            if example is not None:
                out.append(example)
        return out


GENERIC_READERS = (ConllReader, PubtatorReader, BiocReader, JsonlReader, JsonReader, CsvReader, TsvReader,
                   XlsxReader, HubReader)
