"""A loopback stand-in for the Hugging Face Hub, enough for ``huggingface_hub.snapshot_download``.

It serves dataset repos from local files over the Hub's own HTTP API (repo info, tree listing,
``resolve`` downloads with ETag, commit and Range support), so the real SoccerNet SDK and the
real huggingface_hub client run end to end against it once ``HF_ENDPOINT`` points here. It
binds 127.0.0.1 only, answers a bounded number of requests and can stall one file midway, so a
test can kill the client during a download.

Examples::

    with HubMock({"SoccerNet/SN-ReID-2023": {"valid.zip": Path("valid.zip")}}) as hub:
        env = {**os.environ, **hub.env(tmp_path / "hf")}
        subprocess.run([...], env=env)       # the SDK downloads valid.zip from the mock
        hub.requests                          # every (method, path) it answered
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

_INFO = re.compile(r"^/api/datasets/(?P<repo>[^/]+/[^/]+)/revision/(?P<rev>[^/]+)$")
_TREE = re.compile(r"^/api/datasets/(?P<repo>[^/]+/[^/]+)/tree/(?P<rev>[^/]+)(?:/(?P<path>.*))?$")
_FILE = re.compile(r"^/datasets/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<path>.+)$")
_CHUNK = 64 * 1024


class HubMock:
    """Serve ``repos`` (``{repo_id: {path_in_repo: local file}}``) on a loopback port.

    ``stall`` names a file whose first ``GET`` stops after ``stall_after`` bytes and holds the
    connection (up to ``stall_seconds``) until :meth:`release` or the client goes away; later
    requests for it are served whole (from the Range the client asks for). ``max_requests``
    bounds what it answers; past it, every request gets HTTP 503.
    """

    def __init__(
        self,
        repos: dict[str, dict[str, Path]],
        *,
        stall: str | None = None,
        stall_after: int = 0,
        stall_seconds: float = 60.0,
        max_requests: int = 400,
    ) -> None:
        self.repos = {repo: {name: Path(path) for name, path in files.items()} for repo, files in repos.items()}
        self.sha = {repo: hashlib.sha1(repo.encode()).hexdigest() for repo in repos}
        self.stall, self.stall_after, self.stall_seconds = stall, stall_after, stall_seconds
        self.max_requests = max_requests
        self.requests: list[tuple[str, str]] = []
        self.stalled = threading.Event()
        self._release = threading.Event()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The endpoint, ``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def env(self, hf_home: Path) -> dict[str, str]:
        """Environment for a client process: the endpoint, a private HF_HOME, no xet, no proxy."""
        return {
            "HF_ENDPOINT": self.url,
            "HF_HOME": str(hf_home),
            "HF_HUB_DISABLE_XET": "1",
            "HF_HUB_OFFLINE": "0",
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
            "HF_HUB_ETAG_TIMEOUT": "5",
            "HF_HUB_DOWNLOAD_TIMEOUT": "5",
        }

    def release(self) -> None:
        """Let a stalled download go on (or end, if its client was killed)."""
        self._release.set()

    def __enter__(self) -> HubMock:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()

    # -- the Hub's API ------------------------------------------------------------------------
    def _file(self, repo: str, path: str) -> Path | None:
        return self.repos.get(repo, {}).get(path)

    def _etag(self, file: Path) -> str:
        return hashlib.sha256(file.read_bytes()).hexdigest()

    def _info(self, repo: str) -> dict:
        siblings = [{"rfilename": name} for name in sorted(self.repos[repo])]
        return {
            "_id": self.sha[repo][:24],
            "id": repo,
            "sha": self.sha[repo],
            "private": False,
            "disabled": False,
            "gated": False,
            "downloads": 0,
            "likes": 0,
            "tags": [],
            "siblings": siblings,
            "lastModified": "2023-01-01T00:00:00.000Z",
            "createdAt": "2023-01-01T00:00:00.000Z",
        }

    def _tree(self, repo: str, prefix: str) -> list[dict]:
        entries, folders = [], set()
        for name, file in sorted(self.repos[repo].items()):
            if prefix and not name.startswith(prefix.rstrip("/") + "/"):
                continue
            parts = name.split("/")
            folders.update("/".join(parts[:i]) for i in range(1, len(parts)))
            size = file.stat().st_size
            entries.append(
                {
                    "type": "file",
                    "oid": hashlib.sha1(file.read_bytes()).hexdigest(),
                    "size": size,
                    "path": name,
                    "lfs": {"oid": self._etag(file), "size": size, "pointerSize": 134},
                }
            )
        return [{"type": "directory", "oid": "0" * 40, "size": 0, "path": f} for f in sorted(folders)] + entries

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # keep the test output clean
                pass

            def do_HEAD(self) -> None:
                self._answer(body=False)

            def do_GET(self) -> None:
                self._answer(body=True)

            def _answer(self, body: bool) -> None:
                path = unquote(urlsplit(self.path).path)
                with hub._lock:
                    hub.requests.append((self.command, path))
                    over = len(hub.requests) > hub.max_requests
                if over:
                    return self._json({"error": "mock hub: request budget spent"}, 503)
                if (m := _INFO.match(path)) and m["repo"] in hub.repos:
                    return self._json(hub._info(m["repo"]))
                if (m := _TREE.match(path)) and m["repo"] in hub.repos:
                    return self._json(hub._tree(m["repo"], m["path"] or ""))
                if (m := _FILE.match(path)) and (file := hub._file(m["repo"], m["path"])) is not None:
                    return self._send_file(m["repo"], m["path"], file, body)
                self._json({"error": f"mock hub: no route for {path}"}, 404, error_code="EntryNotFound")

            def _json(self, obj: object, status: int = 200, error_code: str | None = None) -> None:
                data = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if error_code:
                    self.send_header("X-Error-Code", error_code)
                self.end_headers()
                self.wfile.write(data)

            def _send_file(self, repo: str, name: str, file: Path, body: bool) -> None:
                data = file.read_bytes()
                start = _range_start(self.headers.get("Range"))
                self.send_response(206 if start else 200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(data) - start))
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("ETag", f'"{hub._etag(file)}"')
                self.send_header("X-Repo-Commit", hub.sha[repo])
                self.end_headers()
                if body:
                    self._stream(name, data[start:])

            def _stream(self, name: str, data: bytes) -> None:
                stall_at = hub.stall_after if name == hub.stall and not hub.stalled.is_set() else None
                sent = 0
                try:
                    while sent < len(data):
                        if stall_at is not None and sent >= stall_at:
                            hub.stalled.set()
                            hub._release.wait(hub.stall_seconds)
                            self.close_connection = True
                            return
                        chunk = data[sent : sent + _CHUNK]
                        self.wfile.write(chunk)
                        sent += len(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

        return Handler


def _range_start(header: str | None) -> int:
    match = re.fullmatch(r"bytes=(\d+)-", header or "")
    return int(match[1]) if match else 0


def wait_for(event: threading.Event, seconds: float) -> bool:
    """``event.wait`` that polls, so a test's timeout stays in charge."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if event.wait(0.1):
            return True
    return False


def build_soccernet_archives(reid: Path, dest: Path) -> dict[str, dict[str, Path]]:
    """SoccerNet's published files, built from an unzipped tree ``reid`` into ``dest``, as the
    repos :class:`HubMock` serves: ``{repo_id: {path_in_repo: file}}``.

    The layout is the SDK's and the devkit's: ``SoccerNet/SN-ReID-2023`` holds
    ``{train,valid,test,challenge}.zip``, each unzipping to one ``<split>/`` folder (the devkit
    README: unzip the four zips and "put four resulting folders under the same path",
    ``reid/{train,valid,test,challenge}``) with its bbox_info beside the crops;
    ``SoccerNet/SN-GroundTruth`` holds ``reid-2023/{test,challenge}_bbox_info.json``, which
    the SDK moves to ``reid/`` for ``split=["test_labels", "challenge_labels"]``.
    """
    import zipfile

    dest.mkdir(parents=True, exist_ok=True)
    zips = {}
    for split in ("train", "valid", "test", "challenge"):
        path = dest / f"{split}.zip"
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
            for file in sorted((reid / split).rglob("*")):
                archive.write(file, f"{split}/{file.relative_to(reid / split).as_posix()}")
        zips[f"{split}.zip"] = path
    labels = {f"reid-2023/{name}": reid / name for name in ("test_bbox_info.json", "challenge_bbox_info.json")}
    return {"SoccerNet/SN-ReID-2023": zips, "SoccerNet/SN-GroundTruth": labels}
