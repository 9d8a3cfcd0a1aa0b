#!/usr/bin/env python3
"""A flush endpoint for the benchmark: sums the counts of every batch it accepts, once per batch id.

POST /hits   form body json=<counts>&batch=<id>[&secret=...]  -> 200
GET  /total  -> the total hits stored, as text
Usage: receiver.py PORT_FILE   (binds 127.0.0.1 on a free port and writes the port to PORT_FILE)
"""
import json
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()
batches = set()
total = 0


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        global total
        body = self.rfile.read(int(self.headers["Content-Length"])).decode("ascii")
        form = urllib.parse.parse_qs(body, keep_blank_values=True)
        counts = json.loads(form["json"][0])
        with lock:
            if form["batch"][0] not in batches:
                batches.add(form["batch"][0])
                total += sum(counts.values())
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        with lock:
            text = str(total).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(sys.argv[1], "w") as f:
    f.write(str(server.server_address[1]))
server.serve_forever()
