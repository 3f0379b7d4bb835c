"""``python -m bioharness.cli``: the same as the ``bioharness`` command."""
import sys

from bioharness.cli import main

sys.exit(main())
