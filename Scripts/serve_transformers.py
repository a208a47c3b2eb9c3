#!/usr/bin/env python3
"""The comparison server for Scripts/serve-load: transformers' fill-mask pipeline behind a minimal HTTP server with
the same POST /score contract as `maskscope serve` (the model cards' endpoint), one request at a time through the
pipeline (a lock), on a threading HTTP server. GET /health answers once the model is loaded.

    python Scripts/serve_transformers.py --model DIR --port 5002 [--threads 2]
"""
import argparse
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

parser = argparse.ArgumentParser()
parser.add_argument("--model", required=True)
parser.add_argument("--port", type=int, default=5002)
parser.add_argument("--threads", type=int, default=2)
args = parser.parse_args()

import torch  # noqa: E402
from transformers import pipeline  # noqa: E402

torch.set_num_threads(args.threads)
fill = pipeline("fill-mask", model=args.model, tokenizer=args.model, dtype=torch.float32, device="cpu")
lock = threading.Lock()


def answer(request):
    inputs = request["inputs"]
    if isinstance(inputs, dict):
        inputs = inputs["input_string"]
    single = isinstance(inputs, str)
    texts = [inputs] if single else inputs
    parameters = request.get("parameters") or {}
    top_k = parameters.get("top_k", 5)
    results = []
    with lock, torch.inference_mode():
        for text in texts:
            results.append(fill(text, top_k=top_k, targets=parameters.get("targets")))
    return results[0] if single else results


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/health":
            self.reply(200, {"status": "ok"})
        else:
            self.reply(404, {"error": "no route"})

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        if self.path != "/score":
            self.reply(404, {"error": "no route"})
            return
        try:
            self.reply(200, answer(json.loads(body)))
        except Exception as error:  # the load test counts these as errors
            self.reply(400, {"error": str(error)})

    def log_message(self, *_):
        pass


server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
server.daemon_threads = True
print(f"listening on http://127.0.0.1:{args.port}", flush=True)
server.serve_forever()
