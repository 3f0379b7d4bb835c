"""Errors the user can act on. The CLI prints them as one line and exits 2, no traceback."""


class UsageError(Exception):
    """Bad input from the user: a file, a flag, a spec. The message says where and what was expected."""

    exit_code = 2


class DataError(UsageError):
    """A data file is malformed; the message names the file and the line or key."""

    def __init__(self, path, where, problem):
        problem = " ".join(str(problem).split()) if "\n" in str(problem) else problem  # one line, always
        self.path, self.where, self.problem = str(path), where, problem
        loc = f"{self.path}:{where}" if where not in (None, "") else self.path
        super().__init__(f"{loc}: {problem}")


class MissingDependency(UsageError):
    """An optional engine is not installed; the message names the extra to install."""

    def __init__(self, what, extra, module=None):
        hint = f"pip install 'bioharness[{extra}]'"
        mod = f" (could not import {module!r})" if module else ""
        super().__init__(f"{what} needs the '{extra}' extra{mod}: {hint}")


class PluginError(UsageError):
    """A plugin failed to import, or raised in a hook or a factory; the message names it."""


class Incomplete(Exception):
    """A stage ended with failures (requests that failed): what succeeded is kept, the
    message says how many failed and the first reason, and the same command retries the
    rest. The CLI prints it as one line and exits 1."""

    exit_code = 1


class StageFailed(Exception):
    """A stage's process or job died (killed, cancelled, out of time or memory) or raised: the
    message names the stage and where its log is; what it wrote is kept and the same command
    resumes it. The CLI prints it as one line and exits 1."""

    exit_code = 1


#: errors that already say in one line what happened: a plugin's hook or factory passes them on
#: unchanged (anything else it raises becomes a PluginError naming the plugin)
REPORTED = (UsageError, Incomplete, StageFailed)
