#!/usr/bin/env python3
"""echo-hold N DONE: answer N echo requests all at once, and only then.

A test's stand-in for replies that come while the prober is busy: the
kernel's own echo is off (net.ipv4.icmp_echo_ignore_all=1); this collects
the requests of N distinct targets on a raw socket, then sends every reply
in one burst and writes DONE.  Bounded: it gives up after 60 s of silence.
"""
import socket
import struct
import sys


def cksum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def main():
    n, done = int(sys.argv[1]), sys.argv[2]
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
    s.settimeout(60)
    with open(done + ".ready", "w"):
        pass
    seen = {}
    while len(seen) < n:
        pkt = s.recv(2048)
        ihl = (pkt[0] & 15) * 4
        if len(pkt) < ihl + 8 or pkt[ihl] != 8:
            continue
        seen[pkt[16:20]] = (pkt[12:16], pkt[ihl + 4:])
    for dst, (src, rest) in seen.items():
        body = b"\0\0" + struct.pack("!H", cksum(b"\0\0\0\0" + rest)) + rest
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(body), 0, 0,
                         64, 1, 0, dst, src)
        s.sendto(ip + body, (socket.inet_ntoa(src), 0))
    with open(done, "w") as f:
        f.write("%d\n" % len(seen))


main()
