"""The ``report`` plugin: the HTML report and the Markdown summary of a run."""
