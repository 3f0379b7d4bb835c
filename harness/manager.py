"""The plugin manager: loads plugins and offers a typed facade over the hook calls.

Load order: the default plugins (built-ins, by module name), then entry points in group
``bioharness``, then what the user names with ``--plugins`` or ``BIOHARNESS_PLUGINS``
(an entry-point name, an importable module, or a path to a ``.py`` file).

Nothing outside this module touches ``pm.hook``: the rest of the core goes through
:class:`Hooks`.
"""
import importlib
import importlib.metadata
import importlib.util
import os
import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pluggy

from bioharness import PROJECT, __version__, hookspecs
from bioharness.errors import UsageError
from bioharness.registry import Registry

ENTRY_POINT_GROUP = PROJECT
ENV_PLUGINS = "BIOHARNESS_PLUGINS"

#: Built-in plugins, loaded exactly like third-party ones.
DEFAULT_PLUGINS = (
    "bioharness.plugins.hf",
    "bioharness.plugins.vllm",
    "bioharness.plugins.openai",
    "bioharness.plugins.lora",
    "bioharness.plugins.bionlp",
    "bioharness.plugins.selfinstruct",
)


class PluginLoadError(UsageError):
    """A plugin could not be imported or registered."""


@dataclass(frozen=True)
class PluginInfo:
    name: str
    version: str | None
    source: str  # "builtin", "entry point (<dist>)", "module", "path <file>"
    hooks: tuple


def _describe_error(exc):
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _module_version(module):
    version = getattr(module, "__version__", None)
    if version:
        return str(version)
    top = module.__name__.split(".")[0]
    for dist in importlib.metadata.packages_distributions().get(top, []):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def _import_path(path):
    path = Path(path).resolve()
    if not path.is_file():
        raise FileNotFoundError(f"no such file {str(path)!r}")
    name = f"bioharness_userplugin_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def split_plugin_names(values):
    """``--plugins a,b --plugins c`` and ``BIOHARNESS_PLUGINS=a,b`` -> ["a", "b", "c"]."""
    names = []
    for value in values:
        for part in str(value).split(","):
            part = part.strip()
            if part and part not in names:
                names.append(part)
    return names


class PluginManager:
    """Owns the pluggy manager and what each plugin is, for ``bioharness plugins``."""

    def __init__(self):
        self.pm = pluggy.PluginManager(PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self._info = {}  # plugin name -> (version, source)

    # -- loading -----------------------------------------------------------------------

    def register_module(self, module, name, source, version=None):
        if self.pm.has_plugin(name) or self.pm.is_registered(module):
            return
        try:
            self.pm.register(module, name=name)
        except pluggy.PluginValidationError as exc:
            raise PluginLoadError(f"plugin {name!r} is invalid: {exc}") from None
        try:
            self.pm.check_pending()  # a hookimpl whose name matches no hookspec: a typo
        except pluggy.PluginValidationError as exc:
            self.pm.unregister(name=name)
            raise PluginLoadError(
                f"plugin {name!r} implements an unknown hook ({exc}); see bioharness.hookspecs"
            ) from None
        self._info[name] = (version if version is not None else _module_version(module), source)

    def load_module(self, modname, source):
        try:
            module = importlib.import_module(modname)
        except Exception as exc:  # a plugin's own import error, reported by name
            raise PluginLoadError(f"plugin {modname!r} failed to load: {_describe_error(exc)}") from None
        self.register_module(module, modname, source)

    def load_defaults(self, names=DEFAULT_PLUGINS):
        for modname in names:
            try:
                module = importlib.import_module(modname)
            except Exception as exc:
                raise PluginLoadError(
                    f"built-in plugin {modname!r} failed to load: {_describe_error(exc)}"
                ) from None
            self.register_module(module, modname, "builtin", version=__version__)

    def _entry_points(self):
        return {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}

    def load_entry_points(self, only=None):
        for name, ep in sorted(self._entry_points().items()):
            if only is not None and name not in only:
                continue
            self._load_entry_point(ep)

    def _load_entry_point(self, ep):
        dist = getattr(ep, "dist", None)
        try:
            module = ep.load()
        except Exception as exc:
            raise PluginLoadError(
                f"plugin {ep.name!r} (entry point {ep.value!r}) failed to load: {_describe_error(exc)}"
            ) from None
        source = f"entry point ({dist.name})" if dist is not None else "entry point"
        version = dist.version if dist is not None else None
        self.register_module(module, ep.name, source, version=version)

    def load_named(self, names):
        """Load what ``--plugins`` / ``BIOHARNESS_PLUGINS`` name, in order."""
        eps = None
        for name in names:
            if name.endswith(".py") or os.sep in name or "/" in name:
                try:
                    module = _import_path(name)
                except Exception as exc:
                    raise PluginLoadError(f"plugin {name!r} failed to load: {_describe_error(exc)}") from None
                self.register_module(module, str(Path(name).resolve()), f"path {name}")
                continue
            if eps is None:
                eps = self._entry_points()
            if name in eps:
                self._load_entry_point(eps[name])
            else:
                self.load_module(name, "module")

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
    """A typed facade over the hook calls; the only place the core calls ``pm.hook``."""

    def __init__(self, pm):
        self._pm = pm

    def _collect(self, hookname, kind):
        registry = Registry(kind)
        caller = getattr(self._pm.hook, hookname)
        # One implementation at a time so that each registration knows its plugin.
        for impl in reversed(caller.get_hookimpls()):
            def register(name, factory, *, description="", options=(), inputs=None, outputs=None,
                         _plugin=impl.plugin_name):
                registry.add(_plugin, name, factory, description=description, options=options, inputs=inputs,
                             outputs=outputs)
            impl.function(register=register)
        return registry

    @cached_property
    def backends(self) -> Registry:
        return self._collect("register_backends", "backend")

    @cached_property
    def task_kinds(self) -> Registry:
        return self._collect("register_task_kinds", "task kind")

    @cached_property
    def generators(self) -> Registry:
        return self._collect("register_generators", "generator")

    @cached_property
    def trainers(self) -> Registry:
        return self._collect("register_trainers", "trainer")

    def validate(self):
        """Collect every registration now, so a duplicate name fails at start-up."""
        for registry in (self.backends, self.task_kinds, self.generators, self.trainers):
            len(registry)

    def task_dirs(self):
        """[(plugin name, Path)] for every folder of task specs, in load order."""
        out = []
        for impl in reversed(self._pm.hook.task_dirs.get_hookimpls()):
            for folder in impl.function() or ():
                out.append((impl.plugin_name, Path(folder)))
        return out

    def plugin_version(self, plugin):
        module = self._pm.get_plugin(plugin)
        return _module_version(module) if module is not None else None

    def register_commands(self, cli):
        self._pm.hook.register_commands(cli=cli)

    def stage_start(self, stage, run_dir, config):
        self._pm.hook.on_stage_start(stage=stage, run_dir=Path(run_dir), config=config)

    def stage_end(self, stage, run_dir, result):
        self._pm.hook.on_stage_end(stage=stage, run_dir=Path(run_dir), result=result)

    def sample(self, stage, record):
        self._pm.hook.on_sample(stage=stage, record=record)


def load_plugins(names=(), *, defaults=True, entry_points=True, env=None):
    """Build a :class:`PluginManager` with the defaults, entry points and named plugins.

    ``names`` adds to ``BIOHARNESS_PLUGINS`` (read from ``env``, default ``os.environ``).
    """
    env = os.environ if env is None else env
    manager = PluginManager()
    if defaults:
        manager.load_defaults()
    if entry_points:
        manager.load_entry_points()
    manager.load_named(split_plugin_names([env.get(ENV_PLUGINS, ""), *names]))
    manager.hooks.validate()
    global ACTIVE
    ACTIVE = manager
    return manager


#: The manager the running command loaded (what :func:`bioharness.get_backend` builds through).
ACTIVE = None


def active_manager():
    return ACTIVE if ACTIVE is not None else load_plugins()
