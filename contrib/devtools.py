"""A headless Chromium driven over the DevTools protocol, with the Python standard library
only: start it, open a page, send commands. Used by `kad-cookie.py` and by
`scripts/report-in-chromium.py`.
"""

import base64
import json
import os
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def devtools(port, path, method="GET"):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.loads(r.read().decode())


class WebSocket:
    """Just enough of RFC 6455 for one request and its answer over the DevTools socket."""

    def __init__(self, url):
        u = urllib.parse.urlparse(url)
        self.sock = socket.create_connection((u.hostname, u.port), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET {u.path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            if not chunk:
                raise OSError("the DevTools socket closed during the handshake")
            head += chunk
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise OSError("the DevTools socket refused the upgrade")

    def send(self, text):
        data = text.encode()
        mask = os.urandom(4)
        header = bytearray([0x81])
        if len(data) < 126:
            header.append(0x80 | len(data))
        elif len(data) < 65536:
            header.append(0x80 | 126)
            header += len(data).to_bytes(2, "big")
        else:
            header.append(0x80 | 127)
            header += len(data).to_bytes(8, "big")
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        self.sock.sendall(bytes(header) + mask + masked)

    def _exact(self, n):
        out = b""
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                raise OSError("the DevTools socket closed")
            out += chunk
        return out

    def receive(self):
        message = b""
        while True:
            b0, b1 = self._exact(2)
            length = b1 & 0x7F
            if length == 126:
                length = int.from_bytes(self._exact(2), "big")
            elif length == 127:
                length = int.from_bytes(self._exact(8), "big")
            payload = self._exact(length)
            if b0 & 0x0F in (0x1, 0x0):
                message += payload
                if b0 & 0x80:
                    return message.decode()

    def close(self):
        self.sock.close()



# Flags that keep a headless browser quiet: no sync, no updates, no background requests.
QUIET_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-domain-reliability",
]


def find_browser():
    return os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


class Browser:
    """A headless Chromium with its own profile, stopped and removed on exit."""

    def __init__(self, extra_flags=(), start_timeout_s=45):
        browser = find_browser()
        if not browser:
            raise OSError("no chromium found (apt-get install chromium)")
        self.port = free_port()
        self.profile = tempfile.mkdtemp(prefix="kontragent-chromium-")
        flags = QUIET_FLAGS + [
            f"--remote-debugging-port={self.port}",
            f"--user-data-dir={self.profile}",
        ] + list(extra_flags) + shlex.split(os.environ.get("CHROMIUM_FLAGS", ""))
        self.proc = subprocess.Popen(
            [browser, *flags, "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.time() + start_timeout_s
        while True:
            try:
                devtools(self.port, "/json/version")
                return
            except OSError:
                if time.time() > deadline:
                    self.close()
                    raise OSError("chromium did not start")
                time.sleep(0.2)

    def open(self, url):
        """A new tab on `url`, as a `Tab`."""
        target = devtools(self.port, "/json/new?" + urllib.parse.quote(url, safe=""), method="PUT")
        return Tab(target["webSocketDebuggerUrl"])

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.close()


class Tab:
    """One page's DevTools socket: `call` sends a command and returns its result."""

    def __init__(self, ws_url):
        self.ws = WebSocket(ws_url)
        self.request = 0

    def call(self, method, **params):
        self.request += 1
        self.ws.send(json.dumps({"id": self.request, "method": method, "params": params}))
        while True:
            answer = json.loads(self.ws.receive())
            if answer.get("id") == self.request:
                if "error" in answer:
                    raise OSError(f"{method}: {answer['error']}")
                return answer.get("result", {})

    def evaluate(self, expression):
        """The value of a JavaScript expression (JSON-serialisable)."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        return result.get("result", {}).get("value")

    def save(self, method, path, **params):
        """Writes the base64 `data` a command returns (a screenshot, a PDF) to `path`."""
        data = self.call(method, **params)["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def close(self):
        self.ws.close()
