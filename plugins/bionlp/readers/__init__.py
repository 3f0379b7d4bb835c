"""The bionlp plugin's readers: generic formats and the datasets bioharness ships tasks for.

* :mod:`.formats`: parsers of file formats (JSON lines, CSV/TSV, CoNLL, xlsx, DDI XML);
* :mod:`.documents`: PubTator and BioC documents, and the NER/RE examples made from them;
* :mod:`.generic`: the format readers a task spec names (``conll``, ``pubtator``, ``bioc``,
  ``jsonl``, ``json``, ``csv``, ``tsv``, ``xlsx``, ``hf``);
* :mod:`.datasets`: one reader per shipped dataset (``medqa``, ``bc5cdr``, ...), with its
  default file layout under the data directory.

:func:`all_readers` is what the plugin registers through ``register_readers``.
"""
from .datasets import (  # noqa: F401
    CHEMPROT_LABELS, DDI_LABELS, GAD_LABELS, MMLU_MEDICAL_SUBJECTS, READERS, DatasetReader, read_aci_bench,
    read_bc2gm, read_bc5cdr, read_bc5cdr_chem, read_bc5cdr_disease, read_chemprot, read_chemprot_scibert,
    read_ddi2013, read_gad, read_mediqa_mas, read_mediqa_qs, read_medmcqa, read_medqa, read_meqsum,
    read_mmlu_medical, read_mts_dialog, read_ncbi_disease, read_pubmedqa)
from .formats import (  # noqa: F401
    SCHEMES, Sentence, _resolve_split, iter_csv, iter_jsonl, iter_pipe_pairs, iter_tsv, mentions_from_tags,
    read_conll, read_ddi_xml, read_json, read_jsonl, read_xlsx, to_iob2)
from .generic import GENERIC_READERS, conll_examples  # noqa: F401


def all_readers():
    """``(name, factory, description)`` of every reader: the generic ones, then the datasets."""
    out = [(cls.name, cls, cls.description) for cls in GENERIC_READERS]
    for name, reader in READERS.items():
        out.append((name, (lambda r=reader: r), reader.description))
    return out
