#!/usr/bin/env python3
"""A stand-in for dy.fi's update endpoint, for the tests: HTTPS on
loopback, answering GET /nic/update?hostname=NAME as dy.fi's specification
says (basic auth, the name pointed at the client's address: "good ADDR"
when that changed it, "nochg" when not).  A word in DIR/force (abuse,
dnserr, ...) is answered instead while the file is there.  Every request
is one line in DIR/requests; the names' addresses are in DIR/names.

usage: dyfi-standin.py DIR ADDR PORT CERT KEY USER:PASSWORD
"""
import base64
import http.server
import os
import ssl
import sys
import urllib.parse

top, addr, port, cert, key, userpass = sys.argv[1:7]
names = {}


class Handler(http.server.BaseHTTPRequestHandler):
    def answer(self, code, text):
        return code, text

    def update(self):
        url = urllib.parse.urlsplit(self.path)
        host = urllib.parse.parse_qs(url.query).get("hostname", [""])[0]
        client = self.client_address[0]
        want = "Basic " + base64.b64encode(userpass.encode()).decode()
        if url.path != "/nic/update":
            return self.answer(404, "not found")
        if self.headers.get("Authorization") != want:
            return self.answer(401, "badauth")
        try:
            with open(os.path.join(top, "force")) as f:
                return self.answer(200, f.read().strip())
        except FileNotFoundError:
            pass
        if not host.endswith(".dy.fi"):
            return self.answer(200, "notfqdn" if host else "nohost")
        if names.get(host) == client:
            return self.answer(200, "nochg")
        names[host] = client
        with open(os.path.join(top, "names.tmp"), "w") as f:
            f.writelines(f"{n} {a}\n" for n, a in sorted(names.items()))
        os.rename(os.path.join(top, "names.tmp"), os.path.join(top, "names"))
        return self.answer(200, "good " + client)

    def do_GET(self):
        code, text = self.update()
        # Recorded before it is answered: a test that has its answer sees it.
        with open(os.path.join(top, "requests"), "a") as f:
            f.write("src=%s path=%s agent=%s answer=%s\n" % (
                self.client_address[0], self.path.replace(" ", "_"),
                self.headers.get("User-Agent", "-").replace(" ", "_"),
                text.replace(" ", "_")))
        body = (text + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer((addr, int(port)), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
server.socket = ctx.wrap_socket(server.socket, server_side=True)
open(os.path.join(top, "ready"), "w").close()
server.serve_forever()
