#!/usr/bin/env python3
"""Opens an HTML figure from `maskscope export` in headless Chromium and moves the pointer over cells, through
the DevTools protocol: each cell's hover value must appear in the page's tip, over the centre of the cell (where
its printed value is) and near its corner. Exits 1 on the first miss.

    python3 Scripts/check_figure_hover.py FIGURE.html [FIGURE.html ...]

Needs Debian's chromium and `pip install websocket-client`.
"""
import json
import subprocess
import sys
import time
import urllib.request

import websocket

PORT = 9333


def main(pages):
    chrome = subprocess.Popen(["chromium", "--headless", "--disable-gpu", "--no-sandbox", f"--remote-debugging-port={PORT}",
                               "--window-size=1600,1200", "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{PORT}/json"))
                break
            except OSError:
                time.sleep(0.1)
        page_target = [t for t in targets if t["type"] == "page"][0]
        ws = websocket.create_connection(page_target["webSocketDebuggerUrl"], suppress_origin=True)
        counter = [0]

        def call(method, **params):
            counter[0] += 1
            ws.send(json.dumps({"id": counter[0], "method": method, "params": params}))
            while True:
                message = json.loads(ws.recv())
                if message.get("id") == counter[0]:
                    return message.get("result")

        def evaluate(expression):
            return json.loads(call("Runtime.evaluate", expression=expression, returnByValue=True)["result"]["value"])

        call("Page.enable")
        failures = 0
        for path in pages:
            call("Page.navigate", url="file://" + path)
            time.sleep(1.0)
            cells = evaluate("""JSON.stringify(Array.from(document.querySelectorAll('[data-tip]')).map(function (e) {
                var b = e.getBoundingClientRect(); return {x: b.x, y: b.y, w: b.width, h: b.height, tip: e.getAttribute('data-tip')}; }))""")
            picked = cells[:: max(1, len(cells) // 7)][:8]
            for cell in picked:
                for where, x, y in (("centre", cell["x"] + cell["w"] / 2, cell["y"] + cell["h"] / 2), ("corner", cell["x"] + 2, cell["y"] + 2)):
                    call("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y)
                    time.sleep(0.05)
                    tip = evaluate("JSON.stringify(document.getElementById('tip').textContent)")
                    ok = tip == cell["tip"]
                    failures += not ok
                    if not ok:
                        print(f"{path}: over the {where} of a cell the tip says {tip!r}, expected {cell['tip']!r}")
            print(f"{path}: {len(cells)} cells with values, {len(picked) * 2} pointer positions checked")
        return 1 if failures else 0
    finally:
        chrome.kill()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
