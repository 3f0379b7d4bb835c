"""The plugin manager: loads plugins and offers a typed facade over the hook calls.

Load order: the default plugins (built-ins, by module name), then entry points in group
``bioharness``, then what the user names with ``--plugins`` or ``BIOHARNESS_PLUGINS``
(an entry-point name, an importable module, a ``.py`` file, or a package directory).

Nothing outside this module calls a hook: the rest of the core goes through
:class:`Hooks`, which calls each plugin's implementation itself so that one that raises
is reported in one line naming it (:class:`bioharness.errors.PluginError`).
"""
import functools
import importlib
import importlib.metadata
import importlib.util
import inspect
import os
import sys
import types
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pluggy

from bioharness import PROJECT, __version__, hookspecs
from bioharness.errors import PluginError
from bioharness.registry import Registry, describe_error, reported

ENTRY_POINT_GROUP = PROJECT
ENV_PLUGINS = "BIOHARNESS_PLUGINS"

#: Built-in plugins, loaded exactly like third-party ones.
DEFAULT_PLUGINS = (
    "bioharness.plugins.hf",
    "bioharness.plugins.vllm",
    "bioharness.plugins.openai",
    "bioharness.plugins.lora",
    "bioharness.plugins.bionlp",
    "bioharness.plugins.datasets",
    "bioharness.plugins.selfinstruct",
    "bioharness.plugins.report",
    "bioharness.plugins.lmeval",
    "bioharness.plugins.evaluation",
    "bioharness.plugins.decontam",
    "bioharness.plugins.slurm",
)


@dataclass(frozen=True)
class PluginInfo:
    name: str
    version: str | None
    source: str  # "builtin", "entry point (<dist>)", "module", "path <file>"
    hooks: tuple


def _module_version(module):
    top = module.__name__.split(".")[0]
    for dist in importlib.metadata.packages_distributions().get(top, []):
        return importlib.metadata.version(dist)
    return None


def _imported(label, load):
    """``load()``; a plugin's own import error becomes one line naming it."""
    try:
        return load()
    except Exception as exc:
        raise PluginError(f"plugin {label!r} failed to load: {describe_error(exc)}") from None


def _import_path(path):
    """Import a ``.py`` file as a module, or a package (its directory or its ``__init__.py``)."""
    path = Path(path).expanduser().resolve()
    if path.name == "__init__.py" or path.is_dir():
        return _import_package(path.parent if path.name == "__init__.py" else path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file {str(path)!r}")
    name = f"bioharness_userplugin_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = sys.modules[name] = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def _import_package(folder):
    """Import ``folder`` as the package it is, its parent on ``sys.path``, so that its own
    absolute (``import pkg.kind``) and relative imports work as when it is installed."""
    if not (folder / "__init__.py").is_file():
        raise FileNotFoundError(f"{str(folder)!r} has no __init__.py: expected a package or a .py file")
    if folder.name not in sys.modules and str(folder.parent) not in sys.path:
        sys.path.insert(0, str(folder.parent))
        importlib.invalidate_caches()
    module = importlib.import_module(folder.name)
    where = Path(getattr(module, "__file__", None) or ".").resolve().parent
    if where != folder:
        raise ImportError(f"another module named {folder.name!r} is already importable from {where}")
    return module


def split_plugin_names(values):
    """``--plugins a,b --plugins c`` and ``BIOHARNESS_PLUGINS=a,b`` -> ["a", "b", "c"]."""
    parts = [part.strip() for value in values for part in str(value).split(",")]
    return list(dict.fromkeys(part for part in parts if part))


class PluginManager:
    """Owns the pluggy manager and what each plugin is, for ``bioharness plugins``."""

    def __init__(self):
        self.pm = pluggy.PluginManager(PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self._info = {}  # plugin name -> (version, source)
        self.named = []  # what --plugins / BIOHARNESS_PLUGINS named: a job or a launched process loads them too
        # historic: every plugin registered from now on declares its own hooks as it arrives
        self.pm.hook.add_hookspecs.call_historic(kwargs={"add": self._add_hookspecs})

    def _add_hookspecs(self, specs):
        """Declare the hooks marked in ``specs`` (a module or class). One already declared with the
        same arguments is kept (a fork of a plugin loaded beside it); other arguments: an error."""
        new = {}
        for name in dir(specs):
            if self.pm.parse_hookspec_opts(specs, name) is None:
                continue
            caller = getattr(self.pm.hook, name, None)
            if caller is None or not caller.has_spec():
                new[name] = getattr(specs, name)
            elif tuple(caller.spec.argnames) != tuple(inspect.signature(getattr(specs, name)).parameters):
                raise PluginError(f"hook {name!r} is already declared with arguments {caller.spec.argnames}")
        if new:
            self.pm.add_hookspecs(types.SimpleNamespace(**new))

    # -- loading -----------------------------------------------------------------------

    def register_module(self, module, name, source, version=None):
        if self.pm.has_plugin(name) or self.pm.is_registered(module):
            return
        try:
            self.pm.register(module, name=name)  # calls its add_hookspecs
        except Exception as exc:
            # the hooks it declared before failing stay declared: harmless, the command stops here
            if self.pm.has_plugin(name):
                self.pm.unregister(name=name)
            if isinstance(exc, pluggy.PluginValidationError):  # the plugin at fault, and the whole reason
                culprit = self.pm.get_name(exc.plugin) if self.pm.is_registered(exc.plugin) else name
                raise PluginError(f"plugin {culprit!r} is invalid: {' '.join(str(exc).split())}") from None
            raise PluginError(f"plugin {name!r} is invalid: {describe_error(exc)}") from None
        if version is None:
            version = getattr(module, "__version__", None) or _module_version(module)
        self._info[name] = (str(version) if version else None, source)

    def load_module(self, modname, source, version=None):
        self.register_module(_imported(modname, lambda: importlib.import_module(modname)), modname, source, version)

    def load_defaults(self, names=DEFAULT_PLUGINS):
        for modname in names:
            self.load_module(modname, "builtin", version=__version__)

    def _entry_points(self):
        return {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}

    def load_entry_points(self):
        for _, ep in sorted(self._entry_points().items()):
            self._load_entry_point(ep)

    def _load_entry_point(self, ep):
        module = _imported(f"{ep.name} (entry point {ep.value})", ep.load)
        dist = getattr(ep, "dist", None)
        source = f"entry point ({dist.name})" if dist is not None else "entry point"
        self.register_module(module, ep.name, source, version=dist.version if dist is not None else None)

    def load_named(self, names):
        """Load what ``--plugins`` / ``BIOHARNESS_PLUGINS`` name, in order."""
        eps = self._entry_points()
        for name in names:
            if name not in self.named:
                self.named.append(name)
            if name.endswith(".py") or os.sep in name or "/" in name:
                module = _imported(name, lambda: _import_path(name))
                # a package is registered by its import name, a lone file by its path
                is_file = Path(module.__file__).name != "__init__.py"
                # no distribution owns a file outside site-packages: skip the metadata scan (0.4 s)
                self.register_module(module, str(Path(name).resolve()) if is_file else module.__name__,
                                     f"path {name}", version=getattr(module, "__version__", None) or "")
            elif name in eps:
                self._load_entry_point(eps[name])
            else:
                self.load_module(name, "module")

    def check(self):
        """Once every plugin is loaded: a hook implemented with no spec declared (by the core or
        a plugin's ``add_hookspecs``) is a typo; and every registration is collected now, so a
        duplicate name fails at start-up."""
        for hookname, caller in vars(self.pm.hook).items():
            required = [impl for impl in caller.get_hookimpls() if not impl.optionalhook]
            if not caller.has_spec() and required:
                plugins = ", ".join(repr(impl.plugin_name) for impl in required)
                raise PluginError(f"plugin {plugins} implements an unknown hook {hookname!r}; see bioharness.hookspecs")
        self.__dict__.pop("hooks", None)  # registries are collected again, with any new plugins
        for kind in ("backends", "task_kinds", "readers", "generators", "trainers", "reporters", "stages",
                     "executors"):
            len(getattr(self.hooks, kind))

    # -- introspection -----------------------------------------------------------------

    def plugins(self):
        out = []
        for name, module in self.pm.list_name_plugin():
            version, source = self._info.get(name, (None, "unknown"))
            hooks = tuple(sorted(caller.name for caller in self.pm.get_hookcallers(module) or ()))
            out.append(PluginInfo(name, version, source, hooks))
        return out

    @cached_property
    def hooks(self):
        return Hooks(self.pm)


class Hooks:
    """A typed facade over the hook calls; the only place the core calls a hook."""

    def __init__(self, pm):
        self._pm = pm

    def _impls(self, hookname):
        """The implementations in pluggy's calling order (the newest plugin first)."""
        caller = getattr(self._pm.hook, hookname, None)
        if caller is None or not caller.has_spec():
            raise PluginError(f"no loaded plugin declares the hook {hookname!r}")
        impls = caller.get_hookimpls()
        return [impl for impl in reversed(impls) if not (impl.hookwrapper or impl.wrapper)]

    @staticmethod
    def _call(impl, hookname, **kwargs):
        """One plugin's implementation, a crash in it one line naming the plugin."""
        return reported(f"plugin {impl.plugin_name!r}: hook {hookname}", impl.function, *[kwargs[a] for a in impl.argnames])

    def each(self, hookname, **kwargs):
        """(plugin name, result) of every implementation of ``hookname``, in calling order: how
        a plugin calls the hooks it declared (a crash in one is one line naming its plugin)."""
        for impl in self._impls(hookname):
            yield impl.plugin_name, self._call(impl, hookname, **kwargs)

    def first(self, hookname, **kwargs):
        """The first result of ``hookname`` that is not None (later plugins are not called), or None."""
        return next((found for _, found in self.each(hookname, **kwargs) if found is not None), None)

    def _collect(self, hookname, kind):
        registry = Registry(kind)
        # One implementation at a time so that each registration knows its plugin.
        for impl in self._impls(hookname):
            self._call(impl, hookname, register=functools.partial(registry.add, impl.plugin_name))
        return registry

    backends = cached_property(lambda self: self._collect("register_backends", "backend"))
    task_kinds = cached_property(lambda self: self._collect("register_task_kinds", "task kind"))
    generators = cached_property(lambda self: self._collect("register_generators", "generator"))
    trainers = cached_property(lambda self: self._collect("register_trainers", "trainer"))

    readers = cached_property(lambda self: self._collect("register_readers", "reader"))
    reporters = cached_property(lambda self: self._collect("register_reporters", "reporter"))
    stages = cached_property(lambda self: self._collect("register_stages", "stage"))
    executors = cached_property(lambda self: self._collect("register_executors", "executor"))

    def stage(self, name):
        """The worker of the stage registered as ``name``, called as ``worker(**options)``."""
        return functools.partial(self.stages.get(name).factory, self)

    def task_dirs(self):
        """[(plugin name, Path)] for every folder of task specs, in load order."""
        return [(plugin, Path(folder)) for plugin, folders in self.each("task_dirs") for folder in folders or ()]

    def resolve_model(self, spec, prepare):
        """The first plugin's :class:`bioharness.ResolvedModel` for ``spec``, or None."""
        return self.first("resolve_model", spec=spec, prepare=prepare)

    def check_adapter(self, path, base):
        """The first plugin's digest of the adapter at ``path`` (checked), or None."""
        return self.first("check_adapter", path=path, base=base)

    def plugin_version(self, plugin):
        module = self._pm.get_plugin(plugin)
        return _module_version(module) if module is not None else None

    def register_commands(self, cli):
        list(self.each("register_commands", cli=cli))

    def stage_start(self, stage, run_dir, config):
        list(self.each("on_stage_start", stage=stage, run_dir=Path(run_dir), config=config))

    def stage_end(self, stage, run_dir, result):
        list(self.each("on_stage_end", stage=stage, run_dir=Path(run_dir), result=result))

    def sample(self, stage, record):
        list(self.each("on_sample", stage=stage, record=record))


_active = None  # the manager load_plugins built last: the one get_backend/resolve_model use


def active_hooks() -> Hooks:
    """The hooks of the manager :func:`load_plugins` built last (the CLI's), else of the defaults."""
    return (_active if _active is not None else load_plugins()).hooks


def named_plugins() -> list:
    """What ``--plugins`` / ``BIOHARNESS_PLUGINS`` named for the active manager: another process
    (a job, a launched worker) loads the same."""
    return list(_active.named) if _active is not None else []


def load_plugins(names=(), *, defaults=True, entry_points=True, env=None):
    """Build a :class:`PluginManager` with the defaults, entry points and named plugins, and
    make it the active one (see :func:`active_hooks`).

    ``names`` adds to ``BIOHARNESS_PLUGINS`` (read from ``env``, default ``os.environ``).
    """
    global _active
    env = os.environ if env is None else env
    manager = PluginManager()
    if defaults:
        manager.load_defaults()
    if entry_points:
        manager.load_entry_points()
    manager.load_named(split_plugin_names([env.get(ENV_PLUGINS, ""), *names]))
    manager.check()
    _active = manager
    return manager


def get_reader(name):
    """A new instance of the reader registered as ``name``, through the active plugin
    manager (an unknown name: one line listing the known ones)."""
    return active_hooks().readers.get(name).factory()


def get_stage(name):
    """The worker of the stage registered as ``name`` (``eval``, ``compare``, ``report``,
    ``decontaminate``), bound to the active plugin manager: ``get_stage("compare")(out=...)``."""
    return active_hooks().stage(name)
