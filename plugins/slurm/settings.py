"""The ``slurm:`` section of a run config, checked before anything is submitted.

::

    slurm:
      partition: gpu
      account: my-lab
      qos: normal
      time: "1-00:00:00"        # or minutes; default 24 h (submitit alone would give 5 minutes)
      cpus_per_task: 8
      gpus_per_task: 1
      mem: 64G                  # or a number of GB
      constraint: a100
      setup: ["module load cuda/12.4", "source ~/venvs/bioharness/bin/activate"]
      additional: {exclude: node13}   # any other sbatch option
      poll_seconds: 10          # how often squeue (or sacct) is asked
      stages:                   # per step kind (generate, instructions, train, eval, compare,
        train: {gpus_per_task: 4, time: "2-00:00:00"}   # report) or step name (train-qa, eval base)
        eval: {gpus_per_task: 1}
        compare: {gpus_per_task: 0, cpus_per_task: 2}
"""
from dataclasses import dataclass, field

from bioharness import DataError

DEFAULT_TIME = "1-00:00:00"


def _text(v):
    return isinstance(v, str) and v.strip() != ""


def _whole(low):
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= low


def _time(v):
    return _whole(1)(v) or _text(v)


def _mem(v):
    return (isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0) or _text(v)


#: per-job resources: (check, what is expected)
RESOURCES = {
    "partition": (_text, "a partition name"),
    "account": (_text, "an account name"),
    "qos": (_text, "a QOS name"),
    "time": (_time, "minutes, or a SLURM time like 1-00:00:00"),
    "cpus_per_task": (_whole(1), "a whole number >= 1"),
    "gpus_per_task": (_whole(0), "a whole number >= 0"),
    "mem": (_mem, "a size like 64G, or a number of GB"),
    "constraint": (_text, "a node feature expression"),
    "setup": (lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v), "a list of shell lines"),
    "additional": (lambda v: isinstance(v, dict), "a mapping of sbatch options"),
}
GLOBAL = {
    "poll_seconds": (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0,
                     "a number of seconds > 0"),
    "folder": (_text, "a folder for the jobs' logs (default: RUN/slurm)"),
    "stages": (lambda v: isinstance(v, dict), "a mapping of step kind or name -> resources"),
}


def _checked(where, prefix, values, rules):
    for key, value in values.items():
        if key not in rules:
            raise DataError(where, f"{prefix}.{key}", f"unknown key (expected one of: {', '.join(rules)})")
        check, expected = rules[key]
        if value is not None and not check(value):
            raise DataError(where, f"{prefix}.{key}", f"expected {expected}, got {value!r}")
    return {k: v for k, v in values.items() if v is not None}


@dataclass
class SlurmSettings:
    resources: dict = field(default_factory=dict)
    stages: dict = field(default_factory=dict)  # step kind or name -> resources
    poll_seconds: float = 10.0
    folder: str | None = None

    @classmethod
    def from_config(cls, options, where):
        options = dict(options or {})
        general = _checked(where, "slurm", {k: options.pop(k) for k in list(options) if k in GLOBAL}, GLOBAL)
        resources = _checked(where, "slurm", options, RESOURCES)
        stages = {}
        for name, values in (general.get("stages") or {}).items():
            if not isinstance(values, dict):
                raise DataError(where, f"slurm.stages.{name}", f"expected a mapping of resources, got {values!r}")
            stages[str(name)] = _checked(where, f"slurm.stages.{name}", values, RESOURCES)
        return cls(resources, stages, float(general.get("poll_seconds", 10.0)), general.get("folder"))

    def for_step(self, step) -> dict:
        """The resources of ``step``: the section's, then its kind's, then its name's."""
        return {**self.resources, **self.stages.get(step.kind, {}), **self.stages.get(step.name, {})}


def sbatch_parameters(resources, job_name, dependency=None) -> dict:
    """submitit ``SlurmExecutor.update_parameters`` keywords for one job."""
    extra = dict(resources.get("additional") or {})
    extra["time"] = str(resources.get("time", DEFAULT_TIME))  # submitit's own default is 5 minutes
    if resources.get("mem") is not None:
        mem = resources["mem"]
        extra["mem"] = f"{mem}G" if isinstance(mem, (int, float)) else mem
    if dependency:
        extra["dependency"] = dependency
        extra["kill-on-invalid-dep"] = "yes"  # where the cluster allows it: never pending for ever
    params = {"job_name": job_name, "stderr_to_stdout": True, "additional_parameters": extra}
    for key in ("partition", "account", "qos", "cpus_per_task", "constraint", "setup"):
        if resources.get(key) is not None:
            params[key] = resources[key]
    if resources.get("gpus_per_task"):
        params["gpus_per_task"] = resources["gpus_per_task"]
    return params
