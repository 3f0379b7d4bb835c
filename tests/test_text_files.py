"""Every reader of a user's text file outside the bionlp readers (those are tested in
tests/plugins/bionlp/test_bionlp_generic_readers.py) reads a file with a byte-order mark and
CRLF line ends as the plain file (issue 22): instruction sets, seed pools, task specs, run
configs, the run store's JSON, lm-eval's local documents."""
import codecs
import json
import textwrap

import pytest
from windows_text import as_windows

from bioharness import DataError
from bioharness.textfiles import read_text, read_yaml, text_encoding

RECORDS = [{"instruction": "Name the drug class of metformin.", "input": "", "output": "Biguanide.", "category": "qa",
            "id": "a"},
           {"instruction": "List the symptoms.", "input": "Fever, cough.", "output": "fever; cough", "category": "ie",
            "id": "b"}]
SPEC = textwrap.dedent("""\
    name: crlf_task
    version: 1
    category: qa
    kind: mcqa
    data: {reader: jsonl, split: test, files: [q.jsonl]}
    prompt:
      template: |-
        {question}
        Answer:
    metrics: [accuracy]
""")


def _lmeval(converter, name, text):
    def read(path):
        from bioharness.plugins.lmeval.local import CONVERTERS

        paths = [path, path.with_name("truth.json")] if converter == "pubmedqa" else [path.with_name(name)]
        if converter == "pubmedqa":
            paths[1].write_text(json.dumps({"1": "yes"}))
        else:
            path.rename(paths[0])
        return CONVERTERS[converter](paths)
    return read


def _seeds(path):
    from bioharness.plugins.selfinstruct.seeds import load_seeds

    return [s.to_dict() for s in load_seeds(path)]


def _instructions(path):
    from bioharness.instructions import read_instructions

    return [i.to_dict() for i in read_instructions(path)]


def _spec(path):
    from bioharness.taskspec import load_spec

    spec = load_spec(path)
    return spec.name, spec.data, spec.prompt


def _config(path):
    from bioharness.cli.run import load_config

    return load_config(path)


def _store_json(path):
    from bioharness.store import read_json

    return read_json(path)


def _store_jsonl(path):
    from bioharness.store import read_jsonl

    return read_jsonl(path)


#: reader: (plain text, read(path) -> what it made of it)
READERS = {
    "instructions (JSONL)": ("".join(json.dumps(r) + "\n" for r in RECORDS), _instructions),
    "instructions (JSON array)": (json.dumps(RECORDS, indent=2) + "\n", _instructions),
    "seed pool": ("".join(json.dumps(r) + "\n" for r in RECORDS), _seeds),
    "task spec (YAML)": (SPEC, _spec),
    "run config (YAML)": ("out: runs/x\nbase: embedded\ntasks: [pubmedqa]\nlimit: 3\n", _config),
    "run store JSON": (json.dumps({"a": [1, 2], "b": "text\nwith a newline"}, indent=2) + "\n", _store_json),
    "run store JSONL": ('{"id": 1}\n\n{"id": 2}\n', _store_jsonl),
    "lm-eval MedQA (JSONL)": (json.dumps({"question": "Q?", "options": {"A": "a", "B": "b", "C": "c", "D": "d"},
                                         "answer_idx": "B"}) + "\n", _lmeval("medqa", "q.jsonl", None)),
    "lm-eval PubMedQA (JSON)": (json.dumps({"1": {"QUESTION": "Q?", "CONTEXTS": ["c"], "LABELS": ["L"],
                                                 "final_decision": "yes"}}, indent=1), _lmeval("pubmedqa", "", None)),
    "lm-eval MMLU (CSV)": ('"Which, of these?",a,b,c,d,B\nSecond?,a,b,c,d,A\n',
                           _lmeval("mmlu", "anatomy_test.csv", None)),
}


@pytest.mark.parametrize("reader", READERS)
def test_a_byte_order_mark_and_crlf_line_ends_read_as_the_plain_file(reader, tmp_path):
    text, read = READERS[reader]
    plain = tmp_path / "plain" / "file"
    plain.parent.mkdir()
    plain.write_text(text, encoding="utf-8", newline="\n")
    expected = read(plain)
    assert expected
    windows = tmp_path / "windows" / "file"
    windows.parent.mkdir()
    windows.write_bytes(as_windows(text))
    assert read(windows) == expected


def test_the_encoding_is_the_one_the_byte_order_mark_names(tmp_path):
    path = tmp_path / "f.txt"
    for data, encoding in ((as_windows("é\n"), "utf-8-sig"), (as_windows("é\n", "utf-16"), "utf-16"),
                           ("é\n".encode(), "utf-8"), (b"", "utf-8"), (b"\xff\xfe\x00\x00x", "utf-8")):
        path.write_bytes(data)
        assert text_encoding(path) == encoding
    path.write_bytes(as_windows("a\nb\n", "utf-16"))
    assert read_text(path) == "a\nb\n"
    path.write_bytes(b"a\rb\r")  # classic Mac line ends
    assert read_text(path) == "a\nb\n"


def test_read_yaml_accepts_a_bom_and_crlf(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_bytes(codecs.BOM_UTF8 + b"name: medqa\r\nmetrics:\r\n  - accuracy\r\n")
    assert read_yaml(path) == {"name": "medqa", "metrics": ["accuracy"]}
    path.write_bytes(codecs.BOM_UTF16_LE + "name: medqa\r\n".encode("utf-16-le"))
    assert read_yaml(path) == {"name": "medqa"}


def test_read_yaml_names_the_file_and_line_of_a_mistake(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("base: embedded\ntasks: [medqa\nout: runs/x\n")
    with pytest.raises(DataError) as caught:
        read_yaml(path, "a run config (YAML)")
    assert str(caught.value).startswith(f"{path}:3: invalid YAML (")
    assert "\n" not in str(caught.value)
    path.write_bytes(b"name: caf\xe9\n")
    with pytest.raises(DataError, match=r"run\.yaml: not UTF-8 text \(byte 9\): expected a run config \(YAML\)"):
        read_yaml(path, "a run config (YAML)")
