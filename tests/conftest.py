"""Shared fixtures: the embedded model's tokenizer, a tiny random Llama, the data dir."""
import os
from pathlib import Path

import pytest

from tinymodels import build_tiny_llama

REPO = Path(__file__).resolve().parents[1]
# Nothing in the tests fetches data from its real source: a test that fetches names a mirror on
# loopback (tests/dataserver.py) and turns this off for its own commands.
os.environ["BIOHARNESS_OFFLINE"] = "1"


def _data_dir():
    return Path(os.environ.get("BIOHARNESS_DATA") or REPO.parent / "shared" / "data")


@pytest.fixture(scope="session")
def data_dir():
    path = _data_dir()
    assert path.is_dir(), f"the BioNLP data is expected at {path} (set BIOHARNESS_DATA)"
    return path


@pytest.fixture(scope="session")
def embedded_dir():
    """The embedded SmolLM2 model, converted once into the user cache."""
    from bioharness.plugins.hf import embedded

    return embedded.ensure_model_dir()


@pytest.fixture(scope="session")
def tokenizer(embedded_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(embedded_dir)


@pytest.fixture(scope="session")
def tiny_llama(tokenizer):
    return build_tiny_llama(tokenizer)


@pytest.fixture(scope="session")
def tiny_llama_dir(tiny_llama, tokenizer, tmp_path_factory):
    """The tiny Llama saved as a model directory (config, safetensors, tokenizer)."""
    path = tmp_path_factory.mktemp("tiny-llama")
    tiny_llama.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(autouse=True)
def _restore_active_plugin_manager():
    """load_plugins makes its manager the active one (get_backend, resolve_model use it):
    a test that loads a few plugins must not leave them active for the next test."""
    from bioharness import manager

    before = manager._active
    yield
    manager._active = before
