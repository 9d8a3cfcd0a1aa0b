#!/usr/bin/env python3
"""Milliseconds from exec to the first pixel served: starts the command, then polls the port in a tight loop
(no process per attempt) with a GET until a 200 comes back. Usage: first-pixel.py PORT [--tls] -- COMMAND...
Prints the milliseconds and the server's pid; the server is left running."""
import socket, ssl, subprocess, sys, time

port = int(sys.argv[1])
command = sys.argv[sys.argv.index("--") + 1:]
tls = "--tls" in sys.argv[:sys.argv.index("--")]
context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
request = b"GET /pixel.gif?key=startup HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
start = time.monotonic()
server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
while True:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as plain:
            s = context.wrap_socket(plain) if tls else plain
            s.sendall(request)
            if s.recv(64).startswith(b"HTTP/1.1 200"):
                break
    except OSError:
        pass
    if time.monotonic() - start > 10:
        sys.exit("no pixel within 10 s")
print(f"{(time.monotonic() - start) * 1000:.1f} {server.pid}")
