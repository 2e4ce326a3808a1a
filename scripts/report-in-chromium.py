#!/usr/bin/env python3
"""Render kontragent reports in headless Chromium: a PNG and a PDF of each, and what the
page shows, read from its DOM.

    python3 scripts/report-in-chromium.py --out DIR [--header 'Authorization: Bearer …'] URL...

For each URL it prints one JSON line:

    {"url", "png", "pdf", "sections": {id: innerText}, "title",
     "layouts": {"a4": {...}, "print": {...}, "phone": {...}}}

where each layout gives the page's `scrollWidth` and `clientWidth` at that width and the
elements that stick out past the right edge (`overflowing`, at most five). `a4` is A4's
width on screen (210 mm at 96 dpi = 794 px), `print` the print media at A4 less the page
margins (186 mm = 703 px), `phone` a 360 px phone. The tests assert on this output
(tests/api/report.rs); CI installs chromium.

Only the Python standard library is used, with `contrib/devtools.py`.
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "contrib"))
from devtools import Browser  # noqa: E402

LAYOUTS = {"a4": (794, "screen"), "print": (703, "print"), "phone": (360, "screen")}

MEASURE = """(() => {
  const root = document.documentElement;
  const edge = root.clientWidth + 0.5;
  const overflowing = [...document.querySelectorAll('body *')]
    .filter(e => e.getBoundingClientRect().right > edge)
    .slice(0, 5)
    .map(e => `${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}.${e.className}: ${Math.round(e.getBoundingClientRect().right)}px`);
  return {scrollWidth: root.scrollWidth, clientWidth: root.clientWidth, overflowing};
})()"""

SECTIONS = """(() => Object.fromEntries(
  [...document.querySelectorAll('header, section')].map(s => [s.id || s.tagName.toLowerCase(), s.innerText])
))()"""


def wait_loaded(tab, timeout_s=30):
    until = time.time() + timeout_s
    while tab.evaluate("document.readyState") != "complete":
        if time.time() > until:
            raise OSError("the page did not load")
        time.sleep(0.1)


def render(browser, url, headers, out_dir, index):
    tab = browser.open("about:blank")
    try:
        tab.call("Network.enable")
        if headers:
            tab.call("Network.setExtraHTTPHeaders", headers=headers)
        tab.call("Page.enable")
        tab.call("Emulation.setDeviceMetricsOverride", width=794, height=1123, deviceScaleFactor=1, mobile=False)
        tab.call("Page.navigate", url=url)
        wait_loaded(tab)
        result = {"url": url, "title": tab.evaluate("document.title"), "sections": tab.evaluate(SECTIONS)}
        result["scripts"] = tab.evaluate("document.scripts.length")
        layouts = {}
        for name, (width, media) in LAYOUTS.items():
            tab.call("Emulation.setEmulatedMedia", media=media)
            tab.call("Emulation.setDeviceMetricsOverride", width=width, height=1123, deviceScaleFactor=1, mobile=name == "phone")
            layouts[name] = tab.evaluate(MEASURE)
        result["layouts"] = layouts
        tab.call("Emulation.setEmulatedMedia", media="screen")
        tab.call("Emulation.setDeviceMetricsOverride", width=794, height=1123, deviceScaleFactor=1, mobile=False)
        png = os.path.join(out_dir, f"report-{index}.png")
        tab.save("Page.captureScreenshot", png, format="png", captureBeyondViewport=True)
        pdf = os.path.join(out_dir, f"report-{index}.pdf")
        tab.save("Page.printToPDF", pdf, preferCSSPageSize=True, printBackground=True)
        result["png"], result["pdf"] = png, pdf
        return result
    finally:
        tab.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="where the PNG and PDF files go")
    parser.add_argument("--header", action="append", default=[], help="'Name: value' sent with every request")
    parser.add_argument("urls", nargs="+")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    headers = dict(h.split(": ", 1) for h in args.header)
    # The browser resolves no name but the loopback: it can only reach the service under test.
    with Browser(["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]) as browser:
        for index, url in enumerate(args.urls):
            print(json.dumps(render(browser, url, headers, args.out, index), ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
