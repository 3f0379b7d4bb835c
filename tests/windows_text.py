"""A text file as Windows tools and Excel write it: a byte-order mark and CRLF line ends
(UTF-8, or UTF-16 as Excel's "Unicode text"). Every reader must read it as the plain file."""
import codecs


def as_windows(text: str, encoding: str = "utf-8") -> bytes:
    crlf = text.replace("\r\n", "\n").replace("\n", "\r\n")
    if encoding == "utf-16":
        return codecs.BOM_UTF16_LE + crlf.encode("utf-16-le")
    return codecs.BOM_UTF8 + crlf.encode("utf-8")
