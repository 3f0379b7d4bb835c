"""The generic readers (conll, pubtator, bioc, jsonl/json/csv/tsv/xlsx, hf) on small files
written here, and YAML-only tasks over them evaluated on the tiny model."""
import json
import textwrap
from collections import Counter

import pytest
from click.testing import CliRunner

from bioharness import DataError, UsageError, get_reader
from bioharness.cli import build_cli, main
from bioharness.manager import load_plugins
from bioharness.plugins.bionlp.readers import to_iob2
from bioharness.plugins.bionlp.spans import TagSequenceError

# --------------------------------------------------------------------------- files

# IOB1, whitespace-separated, three columns (token, POS, tag), two documents
CONLL_IOB1 = """\
-DOCSTART- -X- O

IL-2 NN I-protein
binds VB O
Jurkat NN I-cell
cells NNS I-cell
. . O

p50 NN I-protein
p65 NN B-protein
dimers NNS O
. . O

-DOCSTART- -X- O

No DT O
entities NNS O
here RB O
. . O

HeLa NN I-cell
extracts NNS O
. . O
"""

# (id, title, abstract, [(mention, type, concept id)] in text order, [(relation, id1, id2)])
DOCS = [
    ("11", "Aspirin and gastric ulcers.", "Aspirin caused bleeding in two patients; heparin did not.",
     [("Aspirin", "Chemical", "C1"), ("gastric ulcers", "Disease", "X1"), ("Aspirin", "Chemical", "C1"),
      ("bleeding", "Disease", "X2"), ("heparin", "Chemical", "C2")],
     [("CID", "C1", "X1"), ("CID", "C1", "X2")]),
    ("12", "Heparin-induced thrombocytopenia.", "Thrombocytopenia followed heparin; no rash was seen.",
     [("Heparin", "Chemical", "C2"), ("thrombocytopenia", "Disease", "X3"), ("Thrombocytopenia", "Disease", "X3"),
      ("heparin", "Chemical", "C2"), ("rash", "Disease", "X4")],
     [("CID", "C2", "X3")]),
]


def _offsets(title, abstract, mentions):
    """[(start, end, text, type, id)] of the mentions in ``title + " " + abstract``."""
    text, pos, out = f"{title} {abstract}", 0, []
    for mention, type_, cid in mentions:
        start = text.index(mention, pos)
        out.append((start, start + len(mention), mention, type_, cid))
        pos = start + len(mention)
    return out


def pubtator_text():
    lines = []
    for pmid, title, abstract, mentions, relations in DOCS:
        lines += [f"{pmid}|t|{title}", f"{pmid}|a|{abstract}"]
        lines += [f"{pmid}\t{s}\t{e}\t{m}\t{t}\t{c}" for s, e, m, t, c in _offsets(title, abstract, mentions)]
        lines += [f"{pmid}\t{r}\t{a}\t{b}" for r, a, b in relations] + [""]
    return "\n".join(lines)


def bioc_json():
    documents = []
    for pmid, title, abstract, mentions, relations in DOCS:
        passages = [{"offset": 0, "text": title, "annotations": []},
                    {"offset": len(title) + 1, "text": abstract, "annotations": []}]
        for i, (s, e, m, t, c) in enumerate(_offsets(title, abstract, mentions)):
            passage = passages[0] if s < len(title) else passages[1]
            passage["annotations"].append({"id": str(i), "infons": {"type": t, "identifier": c}, "text": m,
                                           "locations": [{"offset": s, "length": e - s}]})
        # relations as BC5CDR's BioC gives them: two infons naming the concepts
        rels = [{"id": f"R{i}", "infons": {"relation": r, "Chemical": a, "Disease": b}, "nodes": []}
                for i, (r, a, b) in enumerate(relations)]
        documents.append({"id": pmid, "passages": passages, "relations": rels})
    return json.dumps({"source": "test", "documents": documents}, indent=1)


def bioc_xml():
    out = ["<?xml version='1.0' encoding='UTF-8'?>", "<collection><source>test</source>"]
    for pmid, title, abstract, mentions, relations in DOCS:
        spans = _offsets(title, abstract, mentions)
        out.append(f"<document><id>{pmid}</id>")
        for offset, text, lo, hi in ((0, title, 0, len(title)), (len(title) + 1, abstract, len(title) + 1, 10 ** 6)):
            out.append(f"<passage><offset>{offset}</offset><text>{text}</text>")
            for i, (s, e, m, t, c) in enumerate(spans):
                if lo <= s < hi:
                    out.append(f'<annotation id="{i}"><infon key="type">{t}</infon><infon key="identifier">{c}</infon>'
                               f'<location offset="{s}" length="{e - s}"/><text>{m}</text></annotation>')
            out.append("</passage>")
        # relations through nodes: the first annotation of each concept
        first = {}
        for i, (_, _, _, _, c) in enumerate(spans):
            first.setdefault(c, i)
        for i, (r, a, b) in enumerate(relations):
            out.append(f'<relation id="R{i}"><infon key="type">{r}</infon><node refid="{first[a]}" role="Chemical"/>'
                       f'<node refid="{first[b]}" role="Disease"/></relation>')
        out.append("</document>")
    out.append("</collection>")
    return "\n".join(out)


@pytest.fixture
def files(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "iob1.txt").write_text(CONLL_IOB1)
    (folder / "docs.pubtator").write_text(pubtator_text())
    (folder / "docs.bioc.json").write_text(bioc_json())
    (folder / "docs.bioc.xml").write_text(bioc_xml())
    return folder


def _mentions(examples):
    return [[(m["type"], m["text"]) for m in e.reference] for e in examples]


# --------------------------------------------------------------------------- conll

def test_conll_iob1_columns_rename_keep_and_documents(files):
    conll = get_reader("conll")
    options = {"scheme": "iob1", "separator": "whitespace", "tag_column": 2, "rename": {"cell": "cell_line"}}
    examples = conll.read([files / "iob1.txt"], "test", "ner", **options)
    assert [e.inputs["text"] for e in examples] == ["IL-2 binds Jurkat cells .", "p50 p65 dimers .",
                                                    "No entities here .", "HeLa extracts ."]
    assert _mentions(examples) == [[("protein", "IL-2"), ("cell_line", "Jurkat cells")],
                                   [("protein", "p50"), ("protein", "p65")], [], [("cell_line", "HeLa")]]
    assert examples[0].reference[1] == {"text": "Jurkat cells", "start_token": 2, "end_token": 4, "type": "cell_line"}
    assert [e.meta["source"] for e in examples] == [f"{files / 'iob1.txt'}:{n}" for n in (3, 9, 16, 21)]
    assert [e.id for e in examples] == ["test-0", "test-1", "test-2", "test-3"]
    kept = conll.read([files / "iob1.txt"], "test", "ner", **options, keep=["cell_line"])
    assert _mentions(kept) == [[("cell_line", "Jurkat cells")], [], [], [("cell_line", "HeLa")]]
    assert kept[0].meta["entity_types"] == ("cell_line",)
    docs = conll.read([files / "iob1.txt"], "test", "ner", **options, unit="document")
    assert len(docs) == 2 and docs[0].inputs["tokens"][:6] == ("IL-2", "binds", "Jurkat", "cells", ".", "p50")
    assert [(m["text"], m["start_token"]) for m in docs[0].reference] == [("IL-2", 0), ("Jurkat cells", 2),
                                                                          ("p50", 5), ("p65", 6)]


def test_tag_schemes_convert_to_iob2_and_reject_what_they_forbid():
    assert to_iob2(["I-A", "I-A", "B-A", "O", "I-B"], "iob1") == ["B-A", "I-A", "B-A", "O", "B-B"]
    assert to_iob2(["S-A", "B-B", "I-B", "E-B", "O"], "bioes") == ["B-A", "B-B", "I-B", "I-B", "O"]
    with pytest.raises(TagSequenceError) as err:
        to_iob2(["O", "B-A"], "iob1")
    assert err.value.index == 1
    with pytest.raises(TagSequenceError) as err:
        to_iob2(["B-A", "I-A", "O"], "bioes")
    assert err.value.index == 2 and "E-A" in str(err.value)


def test_conll_errors_name_file_and_line(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("a\tO\nb\tS-X\n\nc\tO\nd\tE-X\n")
    with pytest.raises(DataError) as err:
        get_reader("conll").read([bad], "test", "ner", scheme="bioes")
    assert str(err.value).startswith(f"{bad}:5: ") and "does not continue an entity" in str(err.value)
    bad.write_text("a\tO\nb\tB-X\textra\n")
    with pytest.raises(DataError, match=r"bad\.tsv:2: expected 'token<TAB>tag', found 3 field\(s\)"):
        get_reader("conll").read([bad], "test", "ner")


# --------------------------------------------------------------------------- documents

def test_pubtator_and_bioc_give_the_same_documents(files):
    examples = {}
    for name, reader in (("docs.pubtator", "pubtator"), ("docs.bioc.json", "bioc"), ("docs.bioc.xml", "bioc")):
        examples[name] = {kind: get_reader(reader).read([files / name], "test", kind, pairs=[["Chemical", "Disease"]])
                          for kind in ("ner", "re")}
    ner = examples["docs.pubtator"]["ner"]
    assert [e.id for e in ner] == ["11", "12"]
    assert ner[0].inputs["text"] == "Aspirin and gastric ulcers. Aspirin caused bleeding in two patients; heparin did not."
    assert _mentions(ner)[0] == [("Chemical", "Aspirin"), ("Disease", "gastric ulcers"), ("Chemical", "Aspirin"),
                                 ("Disease", "bleeding"), ("Chemical", "heparin")]
    assert ner[0].reference[1] == {"text": "gastric ulcers", "start": 12, "end": 26, "type": "Disease", "ids": ("X1",)}
    assert ner[0].meta["source"] == f"{files / 'docs.pubtator'}:1" and ner[1].meta["source"].endswith(":11")
    re_ = examples["docs.pubtator"]["re"]
    assert [(e.id, e.reference) for e in re_] == [
        ("11|C1|X1", "CID"), ("11|C1|X2", "CID"), ("11|C2|X1", "none"), ("11|C2|X2", "none"),
        ("12|C2|X3", "CID"), ("12|C2|X4", "none")]
    assert re_[0].inputs["text_marked"] == ("[E1]Aspirin[/E1] and [E2]gastric ulcers[/E2]. [E1]Aspirin[/E1] caused "
                                            "bleeding in two patients; heparin did not.")
    assert re_[4].inputs["e2"] == {"id": "X3", "type": "Disease", "text": "thrombocytopenia",
                                   "mentions": ("thrombocytopenia", "Thrombocytopenia")}
    for name in ("docs.bioc.json", "docs.bioc.xml"):
        for kind in ("ner", "re"):
            got = examples[name][kind]
            assert [(e.id, e.inputs, e.reference) for e in got] == [(e.id, e.inputs, e.reference)
                                                                    for e in examples["docs.pubtator"][kind]]
        assert got[0].meta["source"] == f"{files / name}:document 11"


def test_relation_candidates_filter_direction_and_seeded_negatives(files):
    pubtator = get_reader("pubtator")
    path = [files / "docs.pubtator"]
    # no pairs given: every pair of two different types, in sorted type order
    assert len(pubtator.read(path, "test", "re")) == 6
    assert pubtator.read(path, "test", "re", pairs=[["Disease", "Chemical"]], directed=True)[0].reference == "none"
    assert pubtator.read(path, "test", "re", pairs=[["Disease", "Chemical"]])[0].reference == "CID"
    assert [e.reference for e in pubtator.read(path, "test", "re", negative="false")].count("false") == 3
    assert [e.id for e in pubtator.read(path, "test", "re", pairs=[["Chemical", "Chemical"]])] == ["11|C1|C2"]
    only_pos = pubtator.read(path, "test", "re", negative_ratio=0)
    assert [e.reference for e in only_pos] == ["CID"] * 3
    one = [e.id for e in pubtator.read(path, "test", "re", negative_ratio=0.5, seed=1)]
    assert len(one) == 4 and one == [e.id for e in pubtator.read(path, "test", "re", negative_ratio=0.5, seed=1)]
    seen = {tuple(e.id for e in pubtator.read(path, "test", "re", negative_ratio=0.5, seed=s)) for s in range(20)}
    assert len(seen) == 3  # the seed chooses which of the 3 negatives stays
    # a relation type left out of `relations` reads as no relation
    assert Counter(e.reference for e in pubtator.read(path, "test", "re", relations=["Other"])) == {"none": 6}


def test_pubtator_and_bioc_errors_name_file_and_place(tmp_path):
    bad = tmp_path / "bad.pubtator"
    bad.write_text(pubtator_text().replace("11\t12\t26\tgastric ulcers", "11\t12\t27\tgastric ulcers"))
    with pytest.raises(DataError) as err:
        get_reader("pubtator").read([bad], "test", "ner")
    assert str(err.value).startswith(f"{bad}:4: mention text 'gastric ulcers' differs from the document text")
    bad.write_text("11|t|Title\n11\tCID\tC1\n")
    with pytest.raises(DataError, match=r"bad\.pubtator:2: expected a mention line"):
        get_reader("pubtator").read([bad], "test", "ner")
    bad = tmp_path / "bad.xml"
    bad.write_text(bioc_xml().replace("</collection>", ""))
    with pytest.raises(DataError, match=r"bad\.xml:\d+: malformed XML"):
        get_reader("bioc").read([bad], "test", "ner")


# --------------------------------------------------------------------------- records

def test_record_readers_map_fields(tmp_path):
    rows = [{"qid": "q1", "stem": "Which organ makes insulin?", "opts": ["liver", "pancreas"], "key": 2, "part": "test"},
            {"qid": "q2", "stem": "Which vitamin is made in skin?", "opts": ["D", "C"], "key": 1, "part": "dev"},
            {"qid": "q3", "stem": "Largest organ?", "opts": ["skin", "lung"], "key": 1, "part": "test"}]
    (tmp_path / "q.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    options = {"fields": {"id": "qid", "question": "stem", "options": "opts", "answer": "key"},
               "index_base": 1, "split_field": "part", "meta": ["part"]}
    examples = get_reader("jsonl").read([tmp_path / "q.jsonl"], "test", "mcqa", **options)
    assert [(e.id, e.inputs["question"], dict(e.inputs["options"]), e.reference) for e in examples] == [
        ("q1", "Which organ makes insulin?", {"A": "liver", "B": "pancreas"}, "B"),
        ("q3", "Largest organ?", {"A": "skin", "B": "lung"}, "A")]
    assert dict(examples[1].meta) == {"part": "test", "source": f"{tmp_path / 'q.jsonl'}:3"}
    # the same records as CSV (options in columns), TSV and a JSON object keyed by id
    (tmp_path / "q.csv").write_text('qid,stem,a,b,key\nq1,"Which organ makes insulin?",liver,pancreas,pancreas\n')
    csv_ex = get_reader("csv").read([tmp_path / "q.csv"], "test", "mcqa",
                                    fields={"id": "qid", "question": "stem", "options": ["a", "b"], "answer": "key"})
    assert (csv_ex[0].reference, dict(csv_ex[0].inputs["options"]), csv_ex[0].meta["source"]) == (
        "B", {"A": "liver", "B": "pancreas"}, f"{tmp_path / 'q.csv'}:2")
    (tmp_path / "s.tsv").write_text("text\tsummary\nA long \"quoted\" text.\tShort.\n")
    tsv_ex = get_reader("tsv").read([tmp_path / "s.tsv"], "test", "summarization")
    assert (tsv_ex[0].id, dict(tsv_ex[0].inputs), tsv_ex[0].reference) == ("test-0", {"text": 'A long "quoted" text.'},
                                                                           "Short.")
    (tmp_path / "r.json").write_text(json.dumps({"data": {"p1": {"sentence": "x", "label": "yes"}}}))
    json_ex = get_reader("json").read([tmp_path / "r.json"], "test", "re", records="data")
    assert (json_ex[0].id, dict(json_ex[0].inputs), json_ex[0].reference) == ("p1", {"sentence": "x"}, "yes")
    with pytest.raises(DataError, match=r"q\.jsonl:2: missing field 'stem'"):
        (tmp_path / "q.jsonl").write_text(json.dumps(rows[0]) + "\n" + json.dumps({"qid": "q9", "part": "test"}) + "\n")
        get_reader("jsonl").read([tmp_path / "q.jsonl"], "test", "mcqa", **options)


def test_xlsx_reader(tmp_path):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["ID", "Question", "Summary"])
    ws.append(["a1", " What helps a cough? ", "Cough remedies"])
    ws.append(["a2", "Is fever dangerous?", "Fever danger"])
    wb.save(tmp_path / "s.xlsx")
    examples = get_reader("xlsx").read([tmp_path / "s.xlsx"], "test", "summarization",
                                       fields={"id": "ID", "question": "Question", "summary": "Summary"})
    assert [(e.id, dict(e.inputs), e.reference, e.meta["source"]) for e in examples] == [
        ("a1", {"question": "What helps a cough?"}, "Cough remedies", f"{tmp_path / 's.xlsx'}:row 2"),
        ("a2", {"question": "Is fever dangerous?"}, "Fever danger", f"{tmp_path / 's.xlsx'}:row 3")]


def test_hf_reader_offline_is_one_line(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UsageError) as err:
        get_reader("hf").read([], "test", "mcqa", path="org/some-dataset")
    assert str(err.value) == ("reader hf: dataset org/some-dataset not loaded: HF_HUB_OFFLINE is set (unset it, or "
                              "use a local copy with another reader)")


# --------------------------------------------------------------------------- YAML-only tasks, evaluated

PLUGIN = textwrap.dedent('''
    from pathlib import Path
    from bioharness import hookimpl

    @hookimpl
    def task_dirs():
        return [Path(__file__).parent / "tasks"]
''')

TASKS = {
    "mini_conll": """
        kind: ner
        category: ie
        data:
          reader: conll
          split: test
          files: [corpus/iob1.txt]
          options: {scheme: iob1, separator: whitespace, tag_column: 2, rename: {cell: cell_line}}
        prompt: {template: "Entities in: {text}"}
        metrics: [f1_strict]
        """,
    "mini_pubtator": """
        kind: re
        category: ie
        data:
          reader: pubtator
          split: test
          files: [corpus/docs.pubtator]
          options: {pairs: [[Chemical, Disease]]}
        prompt: {template: "Does {e1[text]} cause {e2[text]}? {text_marked}"}
        options: {labels: [CID, none], negative: none, label_words: {CID: "yes", none: "no"}}
        metrics: [micro_f1]
        """,
    "mini_bioc_json": """
        kind: ner
        category: ie
        data: {reader: bioc, split: test, files: [corpus/docs.bioc.json], options: {keep: [Disease]}}
        prompt: {template: "Diseases in: {text}"}
        metrics: [f1_strict]
        """,
    "mini_bioc_xml": """
        kind: re
        category: ie
        data: {reader: bioc, split: test, files: [corpus/docs.bioc.xml], options: {negative_ratio: 0}}
        prompt: {template: "{text_marked}"}
        options: {labels: [CID, none], negative: none}
        metrics: [micro_f1]
        """,
}


def _write_plugin(folder, tasks):
    (folder / "tasks").mkdir(exist_ok=True)
    (folder / "plugin.py").write_text(PLUGIN)
    for name, body in tasks.items():
        text = f"name: {name}\nversion: 1\n" + textwrap.dedent(body) + "generation: {max_new_tokens: 4}\n"
        (folder / "tasks" / f"{name}.yaml").write_text(text)
    return folder / "plugin.py"


def test_yaml_only_tasks_over_own_files_evaluate_on_the_tiny_model(files, tmp_path, tiny_llama_dir):
    plugin = _write_plugin(tmp_path, TASKS)  # the data sits beside the specs' folder: tasks/../corpus
    (tmp_path / "tasks" / "corpus").symlink_to(files)
    manager = load_plugins([str(plugin)], env={})
    runner = CliRunner()
    listed = runner.invoke(build_cli(manager), ["tasks", "--json"], obj=manager, catch_exceptions=False)
    status = {t["name"]: t["data"] for t in json.loads(listed.output)}
    assert all(status[name] == "beside the spec" for name in TASKS)
    out = tmp_path / "runs"
    result = runner.invoke(build_cli(manager), ["eval", "--model", f"hf:{tiny_llama_dir}", "--tasks", ",".join(TASKS),
                                                "--out", str(out), "--bootstrap", "100"], obj=manager,
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    folder = out / "eval" / f"hf__{tiny_llama_dir.name}"

    def rows(task):
        return [json.loads(line) for line in (folder / task / "samples.jsonl").read_text().splitlines()]

    conll = rows("mini_conll")
    assert [r["reference"] for r in conll] == [["IL-2", "Jurkat cells"], ["p50", "p65"], [], ["HeLa"]]
    assert sum(r["values"]["ngold"] for r in conll) == 5
    pubtator = rows("mini_pubtator")
    assert [(r["id"], r["reference"]) for r in pubtator] == [
        ("11|C1|X1", "CID"), ("11|C1|X2", "CID"), ("11|C2|X1", "none"), ("11|C2|X2", "none"),
        ("12|C2|X3", "CID"), ("12|C2|X4", "none")]
    assert sum(r["values"]["tp_CID"] + r["values"]["fn_CID"] for r in pubtator) == 3
    assert pubtator[0]["prompt"][0]["prompt"].startswith("Does Aspirin cause gastric ulcers? [E1]Aspirin[/E1] and")
    bioc_ner = rows("mini_bioc_json")
    assert [r["reference"] for r in bioc_ner] == [
        ["gastric ulcers", "bleeding"], ["thrombocytopenia", "Thrombocytopenia", "rash"]]
    assert [r["reference"] for r in rows("mini_bioc_xml")] == ["CID", "CID", "CID"]
    for task, n in (("mini_conll", 4), ("mini_pubtator", 6), ("mini_bioc_json", 2), ("mini_bioc_xml", 3)):
        metrics = json.loads((folder / task / "metrics.json").read_text())
        assert metrics["n"] == n and metrics["setting"]["data_hash"]


def test_dataset_reader_reads_the_files_the_spec_lists(tmp_path, data_dir):
    # `reader: bc2gm, files: [mycorpus/test.tsv]` reads mycorpus/test.tsv, not bc2gm/test.tsv
    (tmp_path / "data" / "mycorpus").mkdir(parents=True)
    (tmp_path / "data" / "mycorpus" / "test.tsv").write_text("BRCA1\tB-GENE\nbinds\tO\n\np53\tB-GENE\n")
    plugin = _write_plugin(tmp_path, {"my_genes": """
        kind: ner
        category: ie
        data: {reader: bc2gm, split: test, files: [mycorpus/test.tsv]}
        prompt: {template: "{text}"}
        metrics: [f1_strict]
        """})
    manager = load_plugins([str(plugin)], env={})
    from bioharness.cli import data_status
    from bioharness.taskspec import TaskCatalog

    catalog = TaskCatalog(manager.hooks)
    spec = catalog.specs["my_genes"]
    assert data_status(spec, tmp_path / "data") == "data dir"
    examples = catalog.kind("ner").load(spec, tmp_path / "data", "test")
    assert [(e.inputs["text"], e.meta["source"]) for e in examples] == [("BRCA1 binds", "mycorpus/test.tsv:1"),
                                                                        ("p53", "mycorpus/test.tsv:4")]
    # the few-shot split, which the list does not cover, comes from the dataset's own layout
    assert len(catalog.kind("ner").load(spec, data_dir, "devel")) == 2519


def test_a_third_party_reader_through_the_hook(tmp_path):
    (tmp_path / "words.txt").write_text("red yes\ncat no\n")
    plugin = _write_plugin(tmp_path, {"colours": """
        kind: mcqa
        category: qa
        data: {reader: words, split: test, files: [../words.txt], options: {upper: true}}
        prompt: {template: "Is {word} a colour?"}
        options: {labels: ["YES", "NO"]}
        metrics: [accuracy]
        """})
    plugin.write_text(plugin.read_text() + textwrap.dedent('''
        from bioharness import Example

        class Words:
            options = {"upper": (bool, "upper-case the answers")}
            kinds = ("mcqa",)
            splits = ()

            def default_files(self, split, **options):
                return []

            def read(self, files, split, kind, root=None, upper=False):
                out = []
                for path in files:
                    for n, line in enumerate(path.read_text().splitlines(), 1):
                        word, answer = line.split()
                        out.append(Example(id=word, inputs={"word": word}, reference=answer.upper() if upper else answer,
                                           meta={"source": f"{path.name}:{n}"}))
                return out

        @hookimpl
        def register_readers(register):
            register("words", Words, description="word<space>answer lines")
    '''))
    manager = load_plugins([str(plugin)], env={})
    from bioharness.taskspec import TaskCatalog

    catalog = TaskCatalog(manager.hooks)
    examples = catalog.kind("mcqa").load(catalog.specs["colours"], None, "test")
    assert [(e.id, e.reference, e.meta["source"]) for e in examples] == [("red", "YES", "words.txt:1"),
                                                                         ("cat", "NO", "words.txt:2")]
    assert manager.hooks.readers.get("words").plugin == str(plugin)


@pytest.mark.parametrize("change,where,words", [
    ("options: {scheme: iob3}", "data.options.scheme", "expected one of iob2, iob1, bioes"),
    ("options: {sep: tab}", "data.options.sep", "unknown option of reader 'conll' (expected one of: scheme,"),
    ("options: {keep: cell}", "data.options.keep", "expected list, got str"),
])
def test_bad_reader_options_are_one_line_naming_the_spec_key(tmp_path, capsys, change, where, words):
    body = TASKS["mini_conll"].replace(
        "options: {scheme: iob1, separator: whitespace, tag_column: 2, rename: {cell: cell_line}}",
        change)
    plugin = _write_plugin(tmp_path, {"mini_conll": body})
    assert main(["--plugins", str(plugin), "tasks"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"Error: {tmp_path / 'tasks' / 'mini_conll.yaml'}:{where}: ")
    assert words in err


def test_malformed_data_is_one_line_naming_file_and_line(files, tmp_path, capsys, tiny_llama_dir):
    plugin = _write_plugin(tmp_path, {"mini_conll": TASKS["mini_conll"]})
    (tmp_path / "tasks" / "corpus").symlink_to(files)
    (files / "iob1.txt").write_text(CONLL_IOB1.replace("p65 NN B-protein", "p65 B-protein"))
    code = main(["--plugins", str(plugin), "eval", "--model", f"hf:{tiny_llama_dir}", "--tasks", "mini_conll",
                 "--out", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert code == 2 and err == f"Error: {tmp_path / 'tasks' / 'corpus' / 'iob1.txt'}:10: expected 3 columns, found 2 field(s)\n"


def test_hf_task_offline_is_one_line_at_eval(tmp_path, capsys, monkeypatch, tiny_llama_dir):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    plugin = _write_plugin(tmp_path, {"hub_qa": """
        kind: mcqa
        category: qa
        data: {reader: hf, split: test, options: {path: org/qa, fields: {question: q, options: opts, answer: a}}}
        prompt: {template: "{question}"}
        metrics: [accuracy]
        """})
    assert main(["--plugins", str(plugin), "tasks", "--json"]) == 0
    assert {t["name"]: t["data"] for t in json.loads(capsys.readouterr().out)}["hub_qa"] == "no files listed (reader hf)"
    code = main(["--plugins", str(plugin), "eval", "--model", f"hf:{tiny_llama_dir}", "--tasks", "hub_qa",
                 "--out", str(tmp_path / "runs")])
    assert (code, capsys.readouterr().err) == (2, "Error: reader hf: dataset org/qa not loaded: HF_HUB_OFFLINE is set "
                                                  "(unset it, or use a local copy with another reader)\n")


def test_a_gold_label_outside_the_task_labels_is_one_line(files, tmp_path):
    body = TASKS["mini_pubtator"].replace("labels: [CID, none], negative: none", "labels: [CID, unrelated], "
                                          "negative: unrelated")
    plugin = _write_plugin(tmp_path, {"mini_pubtator": body.replace('none: "no"', 'unrelated: "no"')})
    (tmp_path / "tasks" / "corpus").symlink_to(files)
    from bioharness.taskspec import TaskCatalog

    catalog = TaskCatalog(load_plugins([str(plugin)], env={}).hooks)
    with pytest.raises(DataError) as err:
        catalog.kind("re").load(catalog.specs["mini_pubtator"], None, "test")
    assert str(err.value) == (f"{tmp_path / 'tasks' / 'mini_pubtator.yaml'}:options.labels: corpus/docs.pubtator:1 "
                              "has label 'none', not one of ['CID', 'unrelated']")


# --------------------------------------------------------------------------- files as they come

def _records_text(fmt):
    rows = [{"id": "q1", "question": "Which organ makes insulin?", "answer": "pancreas"},
            {"id": "q2", "question": "Where is vitamin D made?", "answer": "skin"}]
    if fmt == "jsonl":
        return "".join(json.dumps(r) + "\n" for r in rows)
    if fmt == "json":
        return json.dumps(rows, indent=2) + "\n"
    sep = "," if fmt == "csv" else "\t"
    return "".join(sep.join(r.values()) + "\n" for r in [dict(zip(rows[0], rows[0])), *rows])


#: reader -> (file text, kind, options): each read from a file with a byte-order mark and CRLF
PLAIN_FILES = {
    "conll": (CONLL_IOB1, "ner", {"separator": "whitespace", "scheme": "iob1"}),
    "pubtator": (pubtator_text(), "re", {}),
    "bioc (json)": (bioc_json(), "re", {}),
    "bioc (xml)": (bioc_xml(), "re", {}),
    "jsonl": (_records_text("jsonl"), "summarization", {}),
    "json": (_records_text("json"), "summarization", {}),
    "csv": (_records_text("csv"), "summarization", {}),
    "tsv": (_records_text("tsv"), "summarization", {}),
}


@pytest.mark.parametrize("reader", PLAIN_FILES)
def test_every_text_reader_reads_a_byte_order_mark_and_crlf_line_ends(reader, tmp_path):
    from windows_text import as_windows

    text, kind, options = PLAIN_FILES[reader]
    name = reader.split()[0]
    (tmp_path / "plain").write_text(text, encoding="utf-8", newline="\n")
    plain = get_reader(name).read([tmp_path / "plain"], "test", kind, root=tmp_path, **options)
    assert plain
    encodings = ["utf-8", "utf-16"] if name in ("csv", "tsv") else ["utf-8"]  # Excel: "CSV UTF-8", "Unicode text"
    for encoding in encodings:
        (tmp_path / "plain").write_bytes(as_windows(text, encoding))
        got = get_reader(name).read([tmp_path / "plain"], "test", kind, root=tmp_path, **options)
        assert [e.to_dict() for e in got] == [e.to_dict() for e in plain], encoding


def test_the_dataset_formats_read_a_byte_order_mark_and_crlf_line_ends(tmp_path):
    """The two formats only shipped datasets use (MEDIQA's id||text, DDI's XML)."""
    from windows_text import as_windows

    from bioharness.plugins.bionlp.readers.formats import iter_pipe_pairs, read_ddi_xml

    pairs = "q1||What causes gout?\nq2||Is aspirin safe in pregnancy?\n"
    ddi = ('<?xml version="1.0" encoding="UTF-8"?>\n<document id="d1">\n<sentence id="d1.s0" text="Aspirin and '
           'warfarin interact.">\n<entity id="d1.s0.e0" charOffset="0-6" type="drug" text="Aspirin"/>\n'
           '<entity id="d1.s0.e1" charOffset="12-19" type="drug" text="warfarin"/>\n'
           '<pair id="d1.s0.p0" e1="d1.s0.e0" e2="d1.s0.e1" ddi="true" type="effect"/>\n</sentence>\n</document>\n')
    for text, read in ((pairs, lambda p: list(iter_pipe_pairs(p))), (ddi, read_ddi_xml)):
        (tmp_path / "f").write_text(text, encoding="utf-8", newline="\n")
        plain = read(tmp_path / "f")
        (tmp_path / "f").write_bytes(as_windows(text))
        assert read(tmp_path / "f") == plain and plain


# --------------------------------------------------------------------------- BioRED-style files

def readme_block(marker):
    """The fenced block of the README whose first line is ``marker`` (without that line)."""
    from pathlib import Path

    text = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
    start = text.index(marker + "\n")
    start = text.index("\n", start) + 1
    return text[start:text.index("```", start)]


@pytest.fixture
def biored_plugin(tmp_path):
    """The README's BioRED-style example as a YAML-only plugin."""
    tasks = tmp_path / "tasks"
    (tasks / "biored_mini").mkdir(parents=True)
    (tasks / "biored_mini" / "test.pubtator").write_text(
        readme_block("# biored_mini/test.pubtator   (columns separated by one TAB)"))
    (tasks / "biored_mini.yaml").write_text(readme_block("# biored_mini.yaml"))
    plugin = tmp_path / "biored_plugin.py"
    plugin.write_text("from pathlib import Path\nfrom bioharness import hookimpl\n\n\n@hookimpl\ndef task_dirs():\n"
                      f"    return [Path({str(tasks)!r})]\n")
    return tasks, plugin


def test_a_biored_style_file_novelty_into_meta_and_mentions_of_no_concept_make_no_pair(biored_plugin):
    tasks, _ = biored_plugin
    path = tasks / "biored_mini" / "test.pubtator"
    options = {"pairs": [["ChemicalEntity", "DiseaseOrPhenotypicFeature"]],
               "relations": ["Positive_Correlation", "Negative_Correlation", "Association"]}
    examples = get_reader("pubtator").read([path], "test", "re", **options)
    assert [(e.id, e.reference, e.meta.get("novelty")) for e in examples] == [
        ("90000001|D014635|D022124", "Positive_Correlation", "Novel"), ("90000001|D014635|D003221",
                                                                        "Positive_Correlation", "No"),
        ("90000001|D014635|D012640", "none", None), ("90000001|D000641|D022124", "none", None),
        ("90000001|D000641|D003221", "none", None), ("90000001|D000641|D012640", "none", None),
        ("90000001|D000077287|D022124", "none", None), ("90000001|D000077287|D003221", "none", None),
        ("90000001|D000077287|D012640", "Negative_Correlation", "No"),
        ("90000002|D019821|D063806", "Positive_Correlation", "Novel"), ("90000002|D017035|D063806", "none", None)]
    # "statin intolerance" (id -) is a mention of no concept: in no pair, never marked
    assert all("statin intolerance[/E" not in e.inputs["text_marked"] for e in examples)
    # the mentions are still mentions for NER, with no ids
    ner = get_reader("pubtator").read([path], "test", "ner")
    assert [(m["text"], m["ids"]) for m in ner[1].reference if m["type"] != "ChemicalEntity"][-2:] == [
        ("Creatine kinase", ()), ("statin intolerance", ())]
    # further columns get names of their own; relation_columns renames them
    path.write_text(path.read_text().replace("D022124\tNovel", "D022124\tNovel\tcurator-2"))
    named = get_reader("pubtator").read([path], "test", "re", relation_columns=["is_new"], **options)
    assert dict(named[0].meta) == {"document": "90000001", "source": f"{path}:1", "is_new": "Novel",
                                   "column_6": "curator-2"}


def test_tasks_examples_shows_what_the_reader_made_and_the_prompt(biored_plugin, capsys):
    _, plugin = biored_plugin
    assert main(["tasks", "biored_mini", "--examples", "2", "--json", "--plugins", str(plugin)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["task"], shown["examples_in_split"], len(shown["examples"])) == ("biored_mini", 11, 2)
    first = shown["examples"][0]
    assert first["reference"] == "Positive_Correlation" and first["meta"]["novelty"] == "Novel"
    (request,) = shown["prompt"]["requests"]
    assert request["type"] == "Request" and request["prompt"].endswith(
        "Abstract: " + first["inputs"]["text_marked"] + "\nAnswer:")
    assert main(["tasks", "biored_mini", "--examples", "1", "--plugins", str(plugin)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "biored_mini: 11 examples in split 'test' (reader pubtator, kind re); the first 1:"
    assert "prompt of 90000001|D014635|D022124 (1 request(s)):" in out
    assert out[out.index("  prompt (wrapped in the model's chat template when it has one):") + 1].startswith(
        "    In the abstract below, the chemical is marked [E1]...[/E1]")
    assert main(["tasks", "biored_mini", "--plugins", str(plugin)]) == 0  # NAME alone: its row
    assert capsys.readouterr().out.split() == ["ie:", "biored_mini", "re", "micro_f1", "beside", "the", "spec"]
    assert main(["tasks", "--examples", "1"]) == 2
    assert capsys.readouterr().err.strip() == "Error: --examples shows one task: `bioharness tasks NAME --examples 1`"
