#!/usr/bin/env python3
"""A file server on loopback that misbehaves on purpose, for fetch's tests.

    python3 fault_server.py ROOT LOG [--slow SECONDS]

Serves the files of ROOT as /<mode>/<file>, prints its port on stdout (one
line), and appends the path of every request it receives to LOG. What each
mode does (requests are counted per path):

    ok         the file
    flaky      503 Service Unavailable twice, then the file
    down       503 Service Unavailable, always
    slow       the first time, waits --slow seconds before answering; then the file
    drop       the first time, sends the headers and half the body, then resets
               the connection (RST); then the file
    truncate   the first time, announces more bytes than it sends and closes;
               then the file
    missing    404 Not Found
    forbidden  403 Forbidden

Only the standard library; runs until killed.
"""

import argparse
import os
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("root")
    parser.add_argument("log")
    parser.add_argument("--slow", type=float, default=3.0)
    args = parser.parse_args()

    lock = threading.Lock()
    counts = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_):
            pass

        def seen(self):
            """Logs the request; returns how many times this path came before."""
            with lock:
                n = counts.get(self.path, 0)
                counts[self.path] = n + 1
                with open(args.log, "a") as log:
                    log.write(self.path + "\n")
            return n

        def status(self, code, message):
            body = message.encode()
            self.send_response(code)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            n = self.seen()
            parts = self.path.lstrip("/").split("/", 1)
            if len(parts) != 2:
                return self.status(400, "want /<mode>/<file>")
            mode, name = parts
            if mode == "missing":
                return self.status(404, "no such thing")
            if mode == "forbidden":
                return self.status(403, "go away")
            if mode == "down" or (mode == "flaky" and n < 2):
                return self.status(503, "try later")
            path = os.path.join(args.root, name)
            if not os.path.isfile(path):
                return self.status(404, "no such file")
            with open(path, "rb") as f:
                data = f.read()
            if mode == "slow" and n == 0:
                time.sleep(args.slow)
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            if mode == "truncate" and n == 0:
                self.send_header("Content-Length", str(len(data) + 1000))
                self.end_headers()
                self.wfile.write(data)
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if mode == "drop" and n == 0:
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                time.sleep(0.05)
                # SO_LINGER 0: close() sends a reset, not an orderly end.
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.close_connection = True
                self.connection.close()
                return
            self.wfile.write(data)

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request, client_address):
            # A client that gave up (a timeout) leaves a broken pipe: expected.
            pass

    server = Server(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
