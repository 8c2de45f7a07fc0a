#!/usr/bin/env python3
"""serve.py ROOT — a quiet HTTP server for the download tests. It binds
127.0.0.1 on a free port chosen by the kernel (no race with other tests) and
prints that port on stdout once it is listening. It exits when its parent does."""
import functools
import http.server
import os
import sys
import threading
import time


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class QuietServer(http.server.ThreadingHTTPServer):
    # Clients that hang up early (the cancellation test) are expected.
    def handle_error(self, request, client_address):
        pass


def exit_with_parent():
    # A test that crashes skips its teardown; the server must not outlive it.
    parent = os.getppid()
    while os.getppid() == parent:
        time.sleep(0.3)
    os._exit(0)


def main():
    threading.Thread(target=exit_with_parent, daemon=True).start()
    handler = functools.partial(QuietHandler, directory=sys.argv[1])
    server = QuietServer(("127.0.0.1", 0), handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
