"""What plugins registered: backends, task kinds, readers, generators, trainers, reporters, stages."""
import functools
from dataclasses import dataclass, field
from typing import Any, Callable

from bioharness.errors import REPORTED, PluginError, UsageError


@dataclass(frozen=True)
class Registration:
    kind: str
    name: str
    factory: Callable[..., Any]  # the plugin's factory, guarded: see _guarded
    plugin: str
    description: str = ""
    options: tuple = field(default_factory=tuple)
    #: {option name: artifact} -- options that name an input file/folder (hashed by content
    #: for the stage key; the stage runner passes an upstream artifact of that name there)
    inputs: dict = field(default_factory=dict)
    #: {artifact: path relative to the run folder} -- what the worker writes
    outputs: dict = field(default_factory=dict)
    target: Callable[..., Any] = None  # the factory exactly as registered
    replaces: bool = False  # registered with replace=True: an earlier plugin's one of this name is dropped


def reported(what, call, /, *args, **kwargs):
    """``call(...)``, a crash in it one line: ``{what} failed: Type: message`` (a UsageError or
    Incomplete already says what the user can do: it passes unchanged)."""
    try:
        return call(*args, **kwargs)
    except REPORTED:
        raise
    except Exception as exc:
        raise PluginError(f"{what} failed: {describe_error(exc)}") from exc


def _guarded(factory, kind, name, plugin):
    """The factory, a crash in it reported in one line naming the plugin."""
    return functools.wraps(factory)(functools.partial(reported, f"plugin {plugin!r}: building {kind} {name!r}", factory))


def describe_error(exc) -> str:
    """``Type: first line of the message``, for one-line reports."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Registry:
    """Registrations of one kind, by name, remembering which plugin made each."""

    def __init__(self, kind):
        self.kind = kind
        self._items = {}

    def add(self, plugin, name, factory, *, description="", options=(), inputs=None, outputs=None, replace=False):
        if not isinstance(name, str) or not name:
            raise UsageError(f"plugin {plugin!r} registered a {self.kind} with an invalid name {name!r}")
        if not callable(factory):
            raise UsageError(f"plugin {plugin!r} registered {self.kind} {name!r} with a factory that is not callable")
        if name in self._items and self._items[name].replaces:
            return  # replaced by a plugin loaded later (registrations come newest first)
        if name in self._items and not replace:
            other = self._items[name].plugin
            raise UsageError(
                f"{self.kind} {name!r} is registered by two plugins: {other!r} and {plugin!r}"
            )
        known = {opt.name for opt in options}
        for option in inputs or {}:
            if option not in known:
                raise UsageError(f"plugin {plugin!r}: {self.kind} {name!r} declares input {option!r}, not one of its options")
        self._items[name] = Registration(self.kind, name, _guarded(factory, self.kind, name, plugin), plugin,
                                         description, tuple(options), dict(inputs or {}), dict(outputs or {}),
                                         target=factory, replaces=replace)

    def get(self, name):
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(sorted(self._items)) or "none installed"
            raise UsageError(f"unknown {self.kind} {name!r} (known: {known})") from None

    def __contains__(self, name):
        return name in self._items

    def __iter__(self):
        return iter(self._items.values())

    def __len__(self):
        return len(self._items)

    def names(self):
        return sorted(self._items)
