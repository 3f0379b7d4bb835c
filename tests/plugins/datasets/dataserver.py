"""A real HTTP server on loopback that serves datasets under their manifests' URL paths.

The tree is built from the manifests and a data directory (../shared/data): each file with a
``url`` is served at that URL's path; each archive is a zip of its members' files, built here
(so it is not byte for byte the original archive: fetching checks the members). Faults are
injected per path, one per request, in order: ``cut`` (half the body, then the connection
closes), ``flip`` (one byte changed), ``404``. ``ranges=False`` makes it ignore ``Range``.
Every request is logged as (path, Range header).
"""
import re
import shutil
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit


def build_tree(datasets, data_dir, root):
    """Lay the files of ``datasets`` (bioharness.Dataset) out under ``root`` at their URL paths."""
    root, data_dir = Path(root), Path(data_dir)
    for dataset in datasets:
        archives = {}
        for f in dataset.files:
            if f.url:
                target = root / unquote(urlsplit(f.url).path).lstrip("/")
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(data_dir / f.path, target)
            else:
                archives.setdefault(f.archive, []).append(f)
        for name, members in archives.items():
            target = root / unquote(urlsplit(dataset.archives[name]["url"]).path).lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
                for f in members:
                    archive.write(data_dir / f.path, f.member)
    return root


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):
        server = self.server
        path = unquote(urlsplit(self.path).path)
        wanted = self.headers.get("Range")
        server.log.append((path, wanted))
        faults = server.faults.get(path) or []
        fault = faults.pop(0) if faults else None
        file = server.root / path.lstrip("/")
        if fault == "404" or not file.is_file():
            self.send_error(404, "Not Found")
            return
        data = bytearray(file.read_bytes())
        if fault == "flip":
            data[len(data) // 2] ^= 0x01
        start = 0
        match = re.fullmatch(r"bytes=(\d+)-", wanted or "")
        if match and server.ranges:
            start = int(match.group(1))
            if start >= len(data):
                self.send_error(416, "Range Not Satisfiable")
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = bytes(data[start:])
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        if fault == "cut":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


class DataServer:
    """``with DataServer(root) as server: server.url``; ``server.faults[path] = ["cut", ...]``."""

    def __init__(self, root, ranges=True):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.root, self.httpd.ranges = Path(root), ranges
        self.httpd.faults, self.httpd.log = {}, []
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    @property
    def faults(self):
        return self.httpd.faults

    @property
    def log(self):
        return self.httpd.log

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
