"""PEFT adapter folders, checked before any model is loaded (a bad adapter found after minutes
of loading, or as a traceback from peft, is a worse error than one line at once). Through the
``check_adapter`` hook this serves every backend and ``bioharness eval``."""
import hashlib
import json
import re
import struct
from pathlib import Path

from bioharness import DataError, UsageError

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin")


def safetensors_names(path) -> list:
    """The tensor names in a safetensors file's header (read without any engine)."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            (size,) = struct.unpack("<Q", fh.read(8))
            if size > 100 << 20:
                raise ValueError("header too large")
            header = json.loads(fh.read(size))
        if not isinstance(header, dict):
            raise ValueError("header is not a JSON object")
    except (struct.error, ValueError, UnicodeDecodeError) as exc:
        raise DataError(path, "", f"not a safetensors file ({exc or 'too short'}); expected the saved weights") from None
    return [k for k in header if k != "__metadata__"]


def _module_names(base):
    base = Path(str(base)).expanduser()
    names = set()
    for weights in sorted(base.glob("*.safetensors")) if base.is_dir() else ():
        names.update(k.rsplit(".", 1)[0] for k in safetensors_names(weights))
    return names


def check_adapter(path, base=None) -> str:
    """Check a PEFT adapter directory and return a digest of its content (config + weights).

    ``base``: the base model's folder, when local, to check that ``target_modules`` name
    modules it has. Raises a one-line :class:`UsageError` naming the file and what was expected.
    """
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise UsageError(f"adapter {path}: no such directory (expected a PEFT adapter folder with {ADAPTER_CONFIG})")
    config_path = folder / ADAPTER_CONFIG
    if not config_path.is_file():
        raise DataError(config_path, "", "missing: expected a PEFT adapter folder (adapter_config.json and weights)")
    try:
        text = config_path.read_text(encoding="utf-8")
        config = json.loads(text)
    except UnicodeDecodeError:
        raise DataError(config_path, "", "not UTF-8 text: expected a JSON adapter config") from None
    except json.JSONDecodeError as exc:
        what = "empty file" if not text.strip() else f"invalid JSON ({exc.msg})"
        raise DataError(config_path, exc.lineno if text.strip() else "", f"{what}: expected a JSON adapter config") from None
    if not isinstance(config, dict):
        raise DataError(config_path, "", f"expected a JSON object, got {type(config).__name__}")
    targets = config.get("target_modules")
    if targets is not None and not (isinstance(targets, str) or
                                    (isinstance(targets, list) and all(isinstance(t, str) for t in targets))):
        raise DataError(config_path, "target_modules", "expected a list of module names or a regex string")
    weights = [folder / name for name in ADAPTER_WEIGHTS if (folder / name).is_file()]
    if not weights:
        raise DataError(folder, "", f"no adapter weights (expected {' or '.join(ADAPTER_WEIGHTS)})")
    if weights[0].suffix == ".safetensors":
        safetensors_names(weights[0])
    elif weights[0].stat().st_size == 0:
        raise DataError(weights[0], "", "empty file: expected the saved adapter weights")
    modules = _module_names(base) if base and targets else set()
    if modules:
        if isinstance(targets, str):
            unknown = [] if any(re.fullmatch(targets, m) for m in modules) else [targets]
        else:
            unknown = [t for t in targets if not any(m == t or m.endswith("." + t) for m in modules)]
        if unknown:
            have = sorted({m.rsplit(".", 1)[-1] for m in modules if ".layers." in m}) or sorted(modules)[:8]
            raise DataError(config_path, "target_modules", f"{', '.join(map(repr, unknown))} names no module of the "
                                                           f"base model {base} (it has {', '.join(have)})")
    digest = hashlib.sha256()
    for file in (config_path, *weights):
        digest.update(file.name.encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()[:16]
