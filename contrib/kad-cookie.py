#!/usr/bin/env python3
"""Print a fresh Cookie header value for kad.arbitr.ru, for `sources.kad.cookie_command`.

Best effort. kad sets its `wasm` and `pr_fp` cookies (and DDoS-Guard its `__ddg*`) from the
page's own scripts, so only a browser gets them. This script starts Debian's headless
`chromium`, loads the search page, reads the page's cookies over the DevTools protocol until
the required one is set (or `KAD_WAIT_S` passes) and prints them as one
`name=value; name=value` line. It exits 1 (printing
nothing on stdout) when no `wasm` cookie was set: some clients report that headless Chromium
is not given one, and kontragent then reports kad as `cookie_expired`, never as clean.

Only the Python standard library is used (a minimal WebSocket client is below).

Environment:
  KAD_URL          the page to load (default https://kad.arbitr.ru/)
  KAD_WAIT_S       seconds the page's scripts get to set the cookie (default 20)
  KAD_REQUIRE      the cookie that must be present (default wasm)
  CHROMIUM         the browser binary (default: chromium, then chromium-browser)
  CHROMIUM_FLAGS   extra flags, space-separated (e.g. --proxy-server=socks5://127.0.0.1:1080)
"""

import base64
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
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


def main():
    url = os.environ.get("KAD_URL", "https://kad.arbitr.ru/")
    wait_s = float(os.environ.get("KAD_WAIT_S", "20"))
    required = os.environ.get("KAD_REQUIRE", "wasm")
    browser = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not browser:
        print("kad-cookie: no chromium found (apt-get install chromium)", file=sys.stderr)
        return 1
    port = free_port()
    profile = tempfile.mkdtemp(prefix="kad-cookie-")
    flags = [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-domain-reliability",
        f"--remote-debugging-port={port}",
        f"--user-data-dir={profile}",
    ] + shlex.split(os.environ.get("CHROMIUM_FLAGS", ""))
    proc = subprocess.Popen(
        [browser, *flags, "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.time() + 45
        while True:
            try:
                devtools(port, "/json/version")
                break
            except OSError:
                if time.time() > deadline:
                    print("kad-cookie: chromium did not start", file=sys.stderr)
                    return 1
                time.sleep(0.2)
        target = devtools(port, "/json/new?" + urllib.parse.quote(url, safe=""), method="PUT")
        ws = WebSocket(target["webSocketDebuggerUrl"])
        request = 0

        def cookies():
            nonlocal request
            request += 1
            params = {"urls": [url]}
            ws.send(json.dumps({"id": request, "method": "Network.getCookies", "params": params}))
            while True:
                answer = json.loads(ws.receive())
                if answer.get("id") == request:
                    return answer.get("result", {}).get("cookies", [])

        # Ask for the page's cookies every half second until the required one is there.
        until = time.time() + wait_s
        while not any(c.get("name") == required for c in cookies()):
            if time.time() >= until:
                ws.close()
                print(f"kad-cookie: the page set no `{required}` cookie in {wait_s:g} s", file=sys.stderr)
                return 1
            time.sleep(0.5)
        # The page sets its cookies one by one: give the others a moment to land.
        time.sleep(1.5)
        found = cookies()
        ws.close()
        print("; ".join(f"{c['name']}={c['value']}" for c in found))
        return 0
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
