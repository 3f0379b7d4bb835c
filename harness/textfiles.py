"""Text files as real datasets ship them: every reader of a user's text file opens it here.

UTF-8 with or without a byte-order mark (Excel's "CSV UTF-8" and many Windows tools write
one), UTF-16 with its mark (Excel's "Unicode text"), and LF, CRLF or CR line ends all read
as the same text: the mark is dropped and every line ends in ``\\n`` (Python's universal
newlines). Anything else must be UTF-8; a byte that is not raises ``UnicodeDecodeError``,
which the readers turn into one line naming the file and line.
"""
import codecs
from pathlib import Path

_MARKS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def text_encoding(path) -> str:
    """The encoding ``path`` is read with: the one its byte-order mark names, else UTF-8."""
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head.startswith(codecs.BOM_UTF32_LE):  # begins like UTF-16 LE's mark: not a format we read
        return "utf-8"
    return next((encoding for mark, encoding in _MARKS if head.startswith(mark)), "utf-8")


def open_text(path, newline=None):
    """``path`` opened for reading text (see the module docstring). ``newline=""`` keeps the
    line ends as they are (the csv module wants that: it handles CRLF itself)."""
    return open(path, encoding=text_encoding(path), newline=newline)


def read_text(path) -> str:
    """The whole text of ``path``, without a byte-order mark, every line end a ``\\n``."""
    with open_text(Path(path)) as fh:
        return fh.read()


def read_yaml(path, expected="a YAML file"):
    """The YAML document in ``path``, read as :func:`read_text` reads text. A file that is not
    UTF-8 or not YAML is a one-line :class:`bioharness.DataError` naming the file and line;
    ``expected`` says what the file should have been."""
    import yaml

    from bioharness.errors import DataError

    try:
        return yaml.safe_load(read_text(path))
    except UnicodeDecodeError as exc:
        raise DataError(path, "", f"not UTF-8 text (byte {exc.start}): expected {expected}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = mark.line + 1 if mark is not None else ""
        raise DataError(path, where, f"invalid YAML ({getattr(exc, 'problem', None) or exc})") from None
