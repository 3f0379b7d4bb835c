"""A real one-node SLURM cluster on localhost for the slurm executor's tests, started and stopped
with scripts/slurm-local.sh (the script CI uses): no mock. SLURM_CONF is set before any SLURM
command runs, so no client ever looks the controller up in DNS."""
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SCRIPT = REPO / "scripts" / "slurm-local.sh"


@pytest.fixture(scope="session")
def slurm_cluster():
    assert shutil.which("slurmctld") and shutil.which("munged"), \
        "SLURM is not installed: bash scripts/slurm-local.sh install (CI's .ci/run does)"
    folder = Path(tempfile.mkdtemp(prefix="bioharness-slurm-"))  # not under pytest's 0700 tmp: munged must reach it
    conf = folder / "slurm.conf"
    before = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(conf)  # for every client from here on (the drivers and jobs inherit it)
    try:
        started = subprocess.run(["bash", str(SCRIPT), "start", str(folder)], capture_output=True, text=True,
                                 timeout=600)
        assert started.returncode == 0, started.stderr
        yield folder
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop", str(folder)], capture_output=True, timeout=300)
        if before is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = before
        shutil.rmtree(folder, ignore_errors=True)
