# The shared vLLM engine (pytest refuses pytest_plugins in a conftest below the rootdir).
from vllm_fixtures import *  # noqa: F401,F403
