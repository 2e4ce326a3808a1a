#!/usr/bin/env python3
"""Print a fresh Cookie header value for kad.arbitr.ru, for `sources.kad.cookie_command`.

Best effort. kad sets its `wasm` and `pr_fp` cookies (and DDoS-Guard its `__ddg*`) from the
page's own scripts, so only a browser gets them. This script starts Debian's headless
`chromium`, loads the search page, reads the page's cookies over the DevTools protocol until
the required one is set (or `KAD_WAIT_S` passes) and prints them as one
`name=value; name=value` line. It exits 1 (printing
nothing on stdout) when no `wasm` cookie was set: some clients report that headless Chromium
is not given one, and kontragent then reports kad as `cookie_expired`, never as clean.

Only the Python standard library is used (the DevTools client is `devtools.py` beside it).

Environment:
  KAD_URL          the page to load (default https://kad.arbitr.ru/)
  KAD_WAIT_S       seconds the page's scripts get to set the cookie (default 20)
  KAD_REQUIRE      the cookie that must be present (default wasm)
  CHROMIUM         the browser binary (default: chromium, then chromium-browser)
  CHROMIUM_FLAGS   extra flags, space-separated (e.g. --proxy-server=socks5://127.0.0.1:1080)
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from devtools import Browser  # noqa: E402


def main():
    url = os.environ.get("KAD_URL", "https://kad.arbitr.ru/")
    wait_s = float(os.environ.get("KAD_WAIT_S", "20"))
    required = os.environ.get("KAD_REQUIRE", "wasm")
    try:
        browser = Browser()
    except OSError as e:
        print(f"kad-cookie: {e}", file=sys.stderr)
        return 1
    with browser:
        tab = browser.open(url)

        def cookies():
            return tab.call("Network.getCookies", urls=[url]).get("cookies", [])

        # Ask for the page's cookies every half second until the required one is there.
        until = time.time() + wait_s
        while not any(c.get("name") == required for c in cookies()):
            if time.time() >= until:
                tab.close()
                print(f"kad-cookie: the page set no `{required}` cookie in {wait_s:g} s", file=sys.stderr)
                return 1
            time.sleep(0.5)
        # The page sets its cookies one by one: give the others a moment to land.
        time.sleep(1.5)
        found = cookies()
        tab.close()
        print("; ".join(f"{c['name']}={c['value']}" for c in found))
        return 0


if __name__ == "__main__":
    sys.exit(main())
