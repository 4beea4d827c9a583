"""
A real SOCKS5 UDP client: Debian's python3-socks (PySocks). Sends each argument as one datagram to
HOST:PORT through the SOCKS5 proxy and prints one JSON line per answer: the data and the address
the reply header named. With --dns NAME it sends an A query for NAME instead and prints the
addresses in the answer (RFC 1035 section 4.1).

usage: pysocks-udp.py PROXY_PORT HOST PORT [--auth USER:PASS] (--dns NAME | DATA...)
"""
import json
import socket
import struct
import sys

import socks


def dns_query(name, qid=0x4b4d):
    header = struct.pack('>HHHHHH', qid, 0x0100, 1, 0, 0, 0)
    labels = b''.join(bytes([len(p)]) + p.encode() for p in name.rstrip('.').split('.'))
    return header + labels + b'\x00' + struct.pack('>HH', 1, 1)


def dns_answers(msg):
    qd, an = struct.unpack('>HH', msg[4:8])
    at = 12
    for _ in range(qd):
        while msg[at] != 0:
            at += 1 + msg[at]
        at += 5
    out = []
    for _ in range(an):
        if msg[at] & 0xC0 == 0xC0:
            at += 2
        else:
            while msg[at] != 0:
                at += 1 + msg[at]
            at += 1
        rtype, _, _, rdlen = struct.unpack('>HHIH', msg[at:at + 10])
        at += 10
        if rtype == 1:
            out.append(socket.inet_ntoa(msg[at:at + rdlen]))
        at += rdlen
    return {'rcode': msg[3] & 0x0F, 'addresses': out}


def main():
    args = sys.argv[1:]
    proxy_port, host, port = int(args[0]), args[1], int(args[2])
    rest = args[3:]
    user = password = None
    if rest[:1] == ['--auth']:
        user, password = rest[1].split(':', 1)
        rest = rest[2:]
    s = socks.socksocket(socket.AF_INET, socket.SOCK_DGRAM)
    s.set_proxy(socks.SOCKS5, '127.0.0.1', proxy_port, username=user, password=password)
    s.settimeout(10)
    if rest[:1] == ['--dns']:
        s.sendto(dns_query(rest[1]), (host, port))
        data, frm = s.recvfrom(4096)
        print(json.dumps({'from': list(frm), **dns_answers(data)}), flush=True)
        return
    for text in rest:
        s.sendto(text.encode(), (host, port))
        data, frm = s.recvfrom(65535)
        print(json.dumps({'from': list(frm), 'data': data.decode()}), flush=True)


main()
