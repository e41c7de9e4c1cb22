"""A loopback stand-in for the Hugging Face Hub (``HF_ENDPOINT=http://127.0.0.1:PORT``).

Serves the repositories under ``<root>/{models,datasets}/<org>/<name>/`` (written by
:mod:`colab_sim.standins`) with as much of the Hub's HTTP API as ``huggingface_hub``,
transformers, open_clip and datasets use to download a checkpoint or stream a dataset:

- ``GET /api/{models,datasets}/<repo>[/revision/<rev>]``: repository info (sha, siblings);
- ``GET /api/<type>s/<repo>/tree/<rev>[/<path>]``: file listing (``recursive=``);
- ``POST /api/<type>s/<repo>/paths-info/<rev>``: info on given paths;
- ``HEAD``/``GET /[datasets/]<repo>/resolve/<rev>/<path>``: files, with ``X-Repo-Commit``,
  ``ETag`` and byte ranges (streaming reads parquet footers by range).

Errors carry the Hub's ``X-Error-Code`` (``RepoNotFound``, ``RevisionNotFound``,
``EntryNotFound``), so clients raise the exceptions they raise against the real Hub. Every
request is logged; requests the stand-in does not know are answered 404 and listed by
:meth:`HubServer.unknown`, so a new client call shows up instead of hiding.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

_REPO = r"(?P<repo>[^/]+/[^/]+)"


class Repo:
    """One repository on disk: its files, a commit sha and per-file hashes (computed once)."""

    def __init__(self, kind: str, repo_id: str, root: Path):
        self.kind, self.repo_id, self.root = kind, repo_id, root
        self.files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
        self.sha256 = {f: hashlib.sha256((root / f).read_bytes()).hexdigest() for f in self.files}
        self.size = {f: (root / f).stat().st_size for f in self.files}
        h = hashlib.sha1(repo_id.encode())
        for f in self.files:
            h.update(f"{f}\0{self.sha256[f]}\0".encode())
        self.sha = h.hexdigest()

    def git_oid(self, f: str) -> str:
        data = (self.root / f).read_bytes()
        return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()

    def dirs(self) -> set[str]:
        out = set()
        for f in self.files:
            parts = f.split("/")[:-1]
            out.update("/".join(parts[: i + 1]) for i in range(len(parts)))
        return out

    def entry(self, path: str) -> dict:
        if path in self.size:
            e = {"type": "file", "oid": self.git_oid(path), "size": self.size[path], "path": path}
            if self.size[path] > 10_000:  # large files live in LFS on the Hub
                e["lfs"] = {"oid": self.sha256[path], "size": self.size[path], "pointerSize": 134}
            return e
        return {"type": "directory", "oid": hashlib.sha1(path.encode()).hexdigest(), "size": 0, "path": path}

    def info(self) -> dict:
        return {
            "_id": self.sha[:24], "id": self.repo_id, "author": self.repo_id.split("/")[0], "sha": self.sha,
            "lastModified": "2026-01-01T00:00:00.000Z", "createdAt": "2026-01-01T00:00:00.000Z",
            "private": False, "gated": False, "disabled": False, "downloads": 0, "likes": 0, "tags": [],
            "cardData": {}, "siblings": [{"rfilename": f} for f in self.files], "usedStorage": sum(self.size.values()),
        }


class HubServer:
    """The stand-in Hub on 127.0.0.1 (an ephemeral port), in a daemon thread. Use as a context manager."""

    def __init__(self, root: Path, log_path: Path | None = None, port: int = 0, data_dir: Path | None = None):
        self.root = Path(root)
        self.data_dir = Path(data_dir) if data_dir is not None else None  # served under /gapkit-data/
        self.repos: dict[tuple[str, str], Repo] = {}
        for kind in ("models", "datasets"):
            base = self.root / kind
            if base.is_dir():
                for d in sorted(p for p in base.glob("*/*") if p.is_dir()):
                    rid = d.relative_to(base).as_posix()
                    self.repos[kind, rid] = Repo(kind, rid, d)
        self.log_path = log_path
        self.requests: list[tuple[str, str, int]] = []
        self._lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"hub": self})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="colab-sim-hub", daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> "HubServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def record(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self.requests.append((method, path, status))
            if self.log_path is not None:
                with open(self.log_path, "a") as fh:
                    fh.write(f"{time.strftime('%H:%M:%S')} {status} {method} {path}\n")

    def unknown(self) -> list[str]:
        """Requests no route matched (as opposed to a 404 for a file that a repository lacks)."""
        return [f"{m} {p}" for m, p, s in self.requests if s == 400]


class _Handler(BaseHTTPRequestHandler):
    hub: HubServer
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet: HubServer.record keeps the log
        pass

    # -- responses -----------------------------------------------------------------------------
    def _send(self, status: int, body: bytes = b"", headers: dict | None = None, head: bool = False) -> None:
        self.send_response(status)
        hdrs = {"Content-Length": str(len(body))}
        hdrs.update(headers or {})
        for k, v in hdrs.items():
            self.send_header(k, v)
        self.end_headers()
        if body and not head:
            self.wfile.write(body)
        self.hub.record(self.command, self.path, status)

    def _json(self, obj: object, status: int = 200, head: bool = False) -> None:
        self._send(status, json.dumps(obj).encode(), {"Content-Type": "application/json"}, head=head)

    def _error(self, status: int, code: str, message: str, head: bool = False) -> None:
        self._send(status, json.dumps({"error": message}).encode(),
                   {"Content-Type": "application/json", "X-Error-Code": code, "X-Error-Message": message}, head=head)

    # -- routing -------------------------------------------------------------------------------
    def do_HEAD(self) -> None:
        self._route(head=True)

    def do_GET(self) -> None:
        self._route(head=False)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        m = re.fullmatch(rf"/api/(?P<kind>models|datasets)/{_REPO}/paths-info/(?P<rev>[^/]+)", url.path)
        if not m:
            return self._error(400, "UnknownRoute", f"no stand-in for POST {url.path}")
        repo = self._repo(m["kind"], m["repo"], unquote(m["rev"]))
        if repo is None:
            return
        ctype = self.headers.get("Content-Type", "")
        if "json" in ctype:
            paths = json.loads(body or b"{}").get("paths", [])
        else:
            paths = parse_qs(body.decode()).get("paths", [])
        known = set(repo.files) | repo.dirs()
        self._json([repo.entry(p.strip("/")) for p in paths if p.strip("/") in known])

    def _repo(self, kind: str, repo_id: str, rev: str, head: bool = False) -> Repo | None:
        repo = self.hub.repos.get((kind, repo_id))
        if repo is None:
            self._error(404, "RepoNotFound", f"Repository not found: {repo_id}", head=head)
            return None
        if rev not in ("main", repo.sha):
            self._error(404, "RevisionNotFound", f"Invalid rev id: {rev}", head=head)
            return None
        return repo

    def _route(self, head: bool) -> None:
        url = urlsplit(self.path)
        path = url.path
        query = parse_qs(url.query)
        m = re.fullmatch(rf"/api/(?P<kind>models|datasets)/{_REPO}(?:/revision/(?P<rev>[^/]+))?", path)
        if m:
            repo = self._repo(m["kind"], m["repo"], unquote(m["rev"] or "main"), head)
            if repo is not None:
                self._json(repo.info(), head=head)
            return
        if path == "/api/agent-harnesses":  # huggingface_hub's client-side telemetry registry: an empty one
            return self._json({"standardEnvVars": [], "harnesses": {}}, head=head)
        m = re.fullmatch(rf"/api/(?P<kind>models|datasets)/{_REPO}/tree/(?P<rev>[^/]+)(?:/(?P<sub>.*))?", path)
        if m:
            return self._tree(m, query, head)
        m = re.fullmatch(rf"/(?P<ds>datasets/)?{_REPO}/resolve/(?P<rev>[^/]+)/(?P<file>.+)", path)
        if m:
            return self._resolve(m, head)
        if path.startswith("/gapkit-data/") and self.hub.data_dir is not None:
            return self._data(unquote(path[len("/gapkit-data/"):]), head)
        self._error(400, "UnknownRoute", f"no stand-in for {self.command} {path}", head=head)

    def _tree(self, m: re.Match, query: dict, head: bool) -> None:
        repo = self._repo(m["kind"], m["repo"], unquote(m["rev"]), head)
        if repo is None:
            return
        sub = unquote(m["sub"] or "").strip("/")
        recursive = query.get("recursive", ["false"])[0].lower() in ("1", "true")
        dirs = repo.dirs()
        if sub and sub not in dirs:
            return self._error(404, "EntryNotFound", f"{sub} does not exist on main", head)
        prefix = f"{sub}/" if sub else ""
        out = []
        for p in sorted(set(repo.files) | dirs):
            if not p.startswith(prefix):
                continue
            rest = p[len(prefix):]
            if recursive or "/" not in rest:
                out.append(repo.entry(p))
        self._json(out, head=head)

    def _data(self, rel: str, head: bool) -> None:
        """A mirror of the published-embedding files (what gapkit downloads from raw GitHub in Colab)."""
        base = self.hub.data_dir.resolve()
        target = (base / rel).resolve()
        if base not in target.parents or not target.is_file():
            return self._send(404, b"Not Found", {"Content-Type": "text/plain"}, head)
        self._send(200, target.read_bytes(), {"Content-Type": "application/octet-stream"}, head)

    def _resolve(self, m: re.Match, head: bool) -> None:
        kind = "datasets" if m["ds"] else "models"
        repo = self._repo(kind, m["repo"], unquote(m["rev"]), head)
        if repo is None:
            return
        name = unquote(m["file"])
        if name not in repo.size:
            return self._error(404, "EntryNotFound", f"Entry not found: {name}", head)
        data = (repo.root / name).read_bytes()
        headers = {"X-Repo-Commit": repo.sha, "ETag": f'"{repo.sha256[name]}"', "Accept-Ranges": "bytes",
                   "Content-Type": "application/octet-stream"}
        rng = self.headers.get("Range")
        if rng:
            mr = re.fullmatch(r"bytes=(\d*)-(\d*)", rng.strip())
            if mr:
                size = len(data)
                if mr[1] == "":  # suffix range: the last N bytes
                    start, end = max(0, size - int(mr[2])), size - 1
                else:
                    start, end = int(mr[1]), min(int(mr[2]) if mr[2] else size - 1, size - 1)
                if start >= size:
                    return self._send(416, b"", {"Content-Range": f"bytes */{size}"}, head)
                headers["Content-Range"] = f"bytes {start}-{end}/{size}"
                return self._send(206, data[start:end + 1], headers, head)
        self._send(200, data, headers, head)
