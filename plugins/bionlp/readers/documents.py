"""Annotated documents (PubTator, BioC) and the examples made from them.

A :class:`Document` is its text, its mentions (character offsets, end exclusive, a type and
concept ids) and its relations between concept ids. From documents come:

* NER examples (:func:`mention_examples`): one per document, inputs ``text``, reference
  the mentions ``{text, start, end, type, ids}``;
* RE examples (:func:`relation_examples`): one per candidate pair of *concepts* (every
  mention of a concept id counts as that concept; a mention that gives no id is its own
  concept, keyed by its lower-cased text; a mention whose id says it has none, ``-`` as in
  BioRED or ``-1`` as in BC5CDR, is a mention of no concept and makes no pair) whose types
  form an allowed pair; the label is the relation type the document states between the two,
  else the negative label. What a relation line gives beyond its two ids (BioRED's novelty:
  ``Novel`` or ``No``) goes into the example's meta under the names ``relation_columns``
  gives (default ``novelty``).
"""
from __future__ import annotations

import json
import random
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from bioharness import DataError, Example, open_text, read_text

from .formats import _require_file


@dataclass
class Document:
    id: str
    text: str
    source: str
    mentions: list = field(default_factory=list)  # {start, end, text, type, ids}; ids None: no concept
    relations: list = field(default_factory=list)  # (type, id1, id2, (what the line gives after id2, ...))


#: a mention's id saying that it has none (BioRED writes ``-``, BC5CDR ``-1``)
NO_CONCEPT = ("-", "-1")


def _ids(value) -> list[str] | None:
    """Concept ids of one mention: ``|`` / ``,`` / ``;`` separated, blanks dropped; None
    when the ids say there is no concept (only ``-`` / ``-1``)."""
    parts = [i.strip() for i in re.split(r"[|,;]", str(value or "")) if i.strip()]
    ids = [i for i in parts if i not in NO_CONCEPT]
    return None if parts and not ids else ids


def _add_mention(doc: Document, path, where, start: int, end: int, text: str, type_: str, ids) -> None:
    if not 0 <= start < end <= len(doc.text):
        raise DataError(path, where, f"mention offsets {start}-{end} lie outside the document text "
                                     f"(length {len(doc.text)})")
    if text is not None and doc.text[start:end] != text:
        raise DataError(path, where, f"mention text {text!r} differs from the document text at {start}-{end} "
                                     f"({doc.text[start:end]!r})")
    if not type_:
        raise DataError(path, where, "mention without a type")
    doc.mentions.append({"text": doc.text[start:end], "start": start, "end": end, "type": type_, "ids": _ids(ids)})


# --------------------------------------------------------------------------- PubTator

_TITLE = re.compile(r"^([^|\t]+)\|([ta])\|(.*)$")


def read_pubtator(path: Path, label: str) -> list[Document]:
    """Documents of a PubTator file: ``PMID|t|title`` and ``PMID|a|abstract`` lines (the
    text is title, a space, abstract: offsets count in it), then mention lines
    ``PMID<TAB>start<TAB>end<TAB>text<TAB>type[<TAB>ids...]`` and relation lines
    ``PMID<TAB>type<TAB>id1<TAB>id2[<TAB>more...]`` (BioRED adds the novelty); a blank line
    between documents."""
    path = _require_file(Path(path))
    docs: list[Document] = []
    doc = None
    with open_text(path) as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.rstrip("\r\n")
            if not line.strip():
                doc = None
                continue
            head = _TITLE.match(line)
            if head:
                pmid, part, text = head.groups()
                if part == "t":
                    doc = Document(pmid, text, f"{label}:{lineno}")
                    docs.append(doc)
                elif doc is None or doc.id != pmid or doc.mentions:
                    raise DataError(path, lineno, f"abstract line of {pmid!r} does not follow its title line")
                else:
                    doc.text = f"{doc.text} {text}"
                continue
            fields = line.split("\t")
            if doc is None:
                raise DataError(path, lineno, "annotation line outside a document (expected 'PMID|t|title' first)")
            if fields[0] != doc.id:
                raise DataError(path, lineno, f"document id {fields[0]!r} differs from the document's {doc.id!r}")
            if len(fields) >= 5 and fields[1].isdigit() and fields[2].isdigit():
                _add_mention(doc, path, lineno, int(fields[1]), int(fields[2]), fields[3], fields[4],
                             fields[5] if len(fields) > 5 else "")
            elif len(fields) >= 4 and not fields[1].isdigit() and fields[2] and fields[3]:
                doc.relations.append((fields[1], fields[2], fields[3], tuple(fields[4:])))
            else:
                raise DataError(path, lineno, "expected a mention line (PMID, start, end, text, type[, ids]) or a "
                                              f"relation line (PMID, type, id1, id2[, more]), found {len(fields)} "
                                              "field(s)")
    return docs


# --------------------------------------------------------------------------- BioC

_ID_INFONS = ("identifier", "Identifier", "MESH", "NCBI Gene", "concept_id", "ID")
_TYPE_INFONS = ("type", "Type", "relation", "Relation")


def _xml_infons(node) -> dict:
    return {i.get("key"): (i.text or "") for i in node.findall("infon")}


def _xml_document(node) -> dict:
    """A BioC XML ``<document>`` as the dict the BioC JSON format has."""

    def relations(parent):
        return [{"id": r.get("id"), "infons": _xml_infons(r),
                 "nodes": [{"refid": n.get("refid"), "role": n.get("role")} for n in r.findall("node")]}
                for r in parent.findall("relation")]

    passages = []
    for p in node.findall("passage"):
        annotations = [{"id": a.get("id"), "infons": _xml_infons(a), "text": a.findtext("text"),
                        "locations": [{"offset": loc.get("offset"), "length": loc.get("length")}
                                      for loc in a.findall("location")]}
                       for a in p.findall("annotation")]
        passages.append({"offset": p.findtext("offset"), "text": p.findtext("text") or "",
                         "annotations": annotations, "relations": relations(p)})
    return {"id": node.findtext("id"), "passages": passages, "relations": relations(node)}


def read_bioc(path: Path, label: str) -> list[Document]:
    """Documents of a BioC collection, XML or JSON (told apart by the first character).
    Passages are placed at their offsets (gaps become spaces); an annotation's span runs
    from its first location to the end of its last; concept ids come from the infon
    ``identifier`` (or ``Identifier``, ``MESH``, ``NCBI Gene``); a relation's concepts are
    its nodes' annotations, or else its two infons other than ``type``/``relation``."""
    path = _require_file(Path(path))
    raw = read_text(path).lstrip()
    if raw.startswith("<"):
        try:
            root = ET.fromstring(raw)
        except ET.ParseError as exc:
            raise DataError(path, exc.position[0], f"malformed XML ({exc})") from None
        items = [_xml_document(d) for d in root.iter("document")]
    else:
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise DataError(path, exc.lineno, f"invalid JSON ({exc.msg} at column {exc.colno})") from None
        items = data.get("documents") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise DataError(path, "documents", "expected a BioC collection with a list of documents")
    return [_bioc_document(item, path, label) for item in items]


def _bioc_document(item, path, label) -> Document:
    if not isinstance(item, dict) or not item.get("id"):
        raise DataError(path, "documents", "a document without an id")
    docid = str(item["id"])
    where = f"document {docid}"
    doc = Document(docid, "", f"{label}:{where}")
    annotations = {}
    try:
        for p in item.get("passages") or ():
            offset = int(p.get("offset") or 0)
            if offset < len(doc.text):
                raise DataError(path, where, f"passage offset {offset} overlaps the text before it")
            doc.text += " " * (offset - len(doc.text)) + (p.get("text") or "")
        for p in item.get("passages") or ():
            for a in p.get("annotations") or ():
                infons = a.get("infons") or {}
                spans = [(int(loc["offset"]), int(loc["offset"]) + int(loc["length"])) for loc in a.get("locations") or ()]
                if not spans:
                    raise DataError(path, f"{where} annotation {a.get('id')}", "annotation without a location")
                start, end = min(s for s, _ in spans), max(e for _, e in spans)
                ids = next((infons[k] for k in _ID_INFONS if infons.get(k)), "")
                _add_mention(doc, path, f"{where} annotation {a.get('id')}", start, end,
                             a.get("text") if len(spans) == 1 else None,
                             next((infons[k] for k in _TYPE_INFONS if infons.get(k)), ""), ids)
                annotations[str(a.get("id"))] = doc.mentions[-1]
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(path, where, f"malformed passage or annotation ({type(exc).__name__}: {exc})") from None
    rels = list(item.get("relations") or ()) + [r for p in item.get("passages") or () for r in p.get("relations") or ()]
    for r in rels:
        infons = r.get("infons") or {}
        type_ = next((infons[k] for k in _TYPE_INFONS if infons.get(k)), "")
        nodes = r.get("nodes") or ()
        if nodes:
            concepts = []
            for n in nodes:
                m = annotations.get(str(n.get("refid")))
                if m is None:
                    raise DataError(path, f"{where} relation {r.get('id')}", f"node refid {n.get('refid')!r} is not an annotation")
                concepts.append((m["ids"] or [m["text"].lower()])[0])
        else:
            concepts = [v for k, v in infons.items() if k not in _TYPE_INFONS]
        if len(concepts) != 2 or not type_:
            raise DataError(path, f"{where} relation {r.get('id')}", "expected a type and two concepts")
        doc.relations.append((type_, concepts[0], concepts[1], ()))
    return doc


# --------------------------------------------------------------------------- examples

def retype(type_, keep, rename):
    """``type_`` after ``rename``; None when ``keep`` leaves it out."""
    type_ = (rename or {}).get(type_, type_)
    return type_ if keep is None or type_ in keep else None


def mention_examples(docs, keep=None, rename=None) -> list[Example]:
    out = []
    for doc in docs:
        mentions = []
        for m in sorted(doc.mentions, key=lambda m: (m["start"], m["end"])):
            type_ = retype(m["type"], keep, rename)
            if type_ is not None:
                mentions.append({**m, "type": type_, "ids": m["ids"] or []})
        meta = {"document": doc.id, "source": doc.source}
        if keep is not None:
            meta["entity_types"] = list(keep)
        out.append(Example(id=doc.id, inputs={"text": doc.text}, reference=mentions, meta=meta))
    return out


def mark(text: str, spans) -> str:
    """``text`` with each ``(start, end, tag)`` span wrapped as ``[tag]...[/tag]``; a span
    overlapping an earlier one is left unmarked."""
    kept, last = [], -1
    for start, end, tag in sorted(spans):
        if start >= last:
            kept.append((start, end, tag))
            last = end
    for start, end, tag in reversed(kept):
        text = f"{text[:start]}[{tag}]{text[start:end]}[/{tag}]{text[end:]}"
    return text


def _entity(concept: dict) -> dict:
    return {k: concept[k] for k in ("id", "type", "text", "mentions")}


def relation_examples(docs, keep=None, rename=None, pairs=None, relations=None, negative="none", directed=False,
                      negative_ratio=None, seed=13, relation_columns=("novelty",)) -> list[Example]:
    """Candidate concept pairs of every document (see the module docstring); with
    ``negative_ratio``, at most that many negatives per positive, chosen with ``seed``.
    ``relation_columns`` names what relation lines give after the two ids (further columns:
    ``column_6``, ...); a pair with a stated relation carries them in its meta."""
    out = []
    for doc in docs:
        concepts: dict[tuple, dict] = {}
        for m in sorted(doc.mentions, key=lambda m: (m["start"], m["end"])):
            type_ = retype(m["type"], keep, rename)
            if type_ is None or m["ids"] is None:  # a mention of no concept pairs with nothing
                continue
            for cid in m["ids"] or [m["text"].lower()]:
                c = concepts.setdefault((type_, cid), {"id": cid, "type": type_, "text": m["text"], "mentions": [],
                                                       "spans": []})
                if m["text"] not in c["mentions"]:
                    c["mentions"].append(m["text"])
                c["spans"].append((m["start"], m["end"]))
        stated, extra = {}, {}
        for type_, a, b, more in doc.relations:
            if relations is None or type_ in relations:
                stated[(a, b)] = type_
                names = list(relation_columns or ()) + [f"column_{i + 5}" for i in range(len(relation_columns or ()),
                                                                                           len(more))]
                extra[(a, b)] = dict(zip(names, more))
        types = sorted({t for t, _ in concepts})
        allowed = [tuple(p) for p in pairs] if pairs else [(a, b) for a in types for b in types if a < b]
        ordered = list(concepts.values())
        for t1, t2 in allowed:
            for i, c1 in enumerate(ordered):
                for j, c2 in enumerate(ordered):
                    if c1["type"] != t1 or c2["type"] != t2 or c1 is c2 or (t1 == t2 and j <= i):
                        continue
                    key = (c1["id"], c2["id"]) if (c1["id"], c2["id"]) in stated or directed else (c2["id"], c1["id"])
                    label = stated.get(key)
                    spans = [(s, e, "E1") for s, e in c1["spans"]] + [(s, e, "E2") for s, e in c2["spans"]]
                    out.append(Example(
                        id=f"{doc.id}|{c1['id']}|{c2['id']}",
                        inputs={"text": doc.text, "text_marked": mark(doc.text, spans), "e1": _entity(c1),
                                "e2": _entity(c2)},
                        reference=label or negative,
                        meta={"document": doc.id, "source": doc.source, **(extra.get(key, {}) if label else {})},
                    ))
    if negative_ratio is None:
        return out
    negatives = [i for i, e in enumerate(out) if e.reference == negative]
    keep_n = min(len(negatives), int(negative_ratio * (len(out) - len(negatives))))
    chosen = set(random.Random(seed).sample(negatives, keep_n))
    return [e for i, e in enumerate(out) if e.reference != negative or i in chosen]
