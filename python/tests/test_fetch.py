"""fetch downloads as `factorlens download` does, here from a local HTTP
server serving zips built from the real ml-100k files (tests/download): a
good archive lands verified in the cache and is then served from it, a
corrupt one raises ValueError and leaves nothing, an unreachable server
raises ConnectionError."""
import functools
import http.server
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import factorlens as fl

MAKE_ZIPS = Path(__file__).resolve().parents[2] / "tests" / "download" / "make_zips.py"


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server(ml100k, tmp_path_factory):
    www = tmp_path_factory.mktemp("www")
    subprocess.run([sys.executable, str(MAKE_ZIPS), os.path.dirname(ml100k), str(www)],
                   check=True)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                            functools.partial(Quiet, directory=str(www)))
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield httpd, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture
def no_local_data(monkeypatch):
    for v in ("FACTORLENS_DATA", "http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(v, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


def test_download_verify_and_cache(server, tmp_path, ml100k, no_local_data):
    _, url = server
    d = fl.fetch("ml-100k", cache_dir=tmp_path, base_url=f"{url}/good")
    assert d == str(tmp_path / "ml-100k")
    assert Path(d, "u.data").read_bytes() == Path(ml100k, "u.data").read_bytes()
    assert Path(d, ".factorlens-verified").exists()
    # Served from the cache now, with nowhere to download from.
    assert fl.fetch("ml-100k", cache_dir=tmp_path, base_url="http://127.0.0.1:9") == d


def test_corrupt_archive(server, tmp_path, no_local_data):
    _, url = server
    with pytest.raises(ValueError):
        fl.fetch("ml-100k", cache_dir=tmp_path, base_url=f"{url}/corrupt")
    assert not list(tmp_path.iterdir())


def test_unreachable(tmp_path, no_local_data):
    with pytest.raises(ConnectionError):
        fl.fetch("ml-100k", cache_dir=tmp_path, base_url="http://127.0.0.1:9", timeout=5)
    with pytest.raises(ValueError):
        fl.fetch("no-such-dataset", cache_dir=tmp_path)
