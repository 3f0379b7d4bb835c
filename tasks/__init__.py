"""The built-in task catalogue, as package data (``bioharness.tasks``).

* ``*.yaml``: every built-in task spec (one task each: data, prompt, scorer, metrics);
* ``datasets/*.yaml``: one manifest per dataset those tasks read: each file's source pinned to a
  commit, its size and sha256, the licence and the citation (``bioharness data``).

The ``bionlp`` plugin returns this folder from ``task_dirs()``: the specs name its task kinds
and readers. Nothing here is code.
"""
