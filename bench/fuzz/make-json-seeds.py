#!/usr/bin/env python3
"""Writes the JSON-RPC seed corpora (corpus/jsonrpc-reader, corpus/jsonrpc-dispatch).

Seeds are whole sessions (one request per line) and single hostile lines:
valid requests of every method, deep nesting, huge numbers, duplicate keys,
raw and escaped NUL, invalid UTF-8, lone surrogates, CRLF, blank and
oversized lines, batches, wrong types, requests before open, writes after
close, out-of-order and duplicate writes, paths with '..', cancellation.

jsonrpc-reader inputs start with one configuration byte (see its harness):
every session is written with a few of them.
"""
import base64, json, os, sys

HERE = os.path.dirname(os.path.abspath(__file__))


def req(i, method, params=None):
    m = {"jsonrpc": "2.0", "id": i, "method": method}
    if params is not None:
        m["params"] = params
    return json.dumps(m, separators=(",", ":")).encode()


def note(method, params):
    return json.dumps({"jsonrpc": "2.0", "method": method, "params": params}, separators=(",", ":")).encode()


FILEINFO = {"name": "disk.qcow2", "size": 6, "mode": 420, "mod_time": "2026-12-04T10:00:00Z",
            "dev": 1, "ino": 2, "uid": 0, "gid": 0, "nlink": 1, "username": "root", "groupname": "root", "flags": 0}
OPEN_IMPORTER = req(1, "open", {"protocol": "memory-test", "mode": "importer",
                                "config": {"files": "/a.bin:100,/b.bin:0,/c/d.txt:30", "error_path": "/bad"},
                                "host": {"hostname": "h", "os": "linux", "arch": "amd64", "cwd": "/",
                                         "max_concurrency": 4, "excludes": ["*.tmp"], "no_xattr": True}})
OPEN_EXPORTER = req(1, "open", {"protocol": "memory-test", "mode": "exporter", "config": {"fail_write": "/fail.bin"}})


def write(i, path, offset, data, eof=False, info=True):
    p = {"path": path, "offset": offset, "data": base64.b64encode(data).decode(), "eof": eof}
    if info:
        p["fileinfo"] = FILEINFO
    return req(i, "write", p)


sessions = {
    "importer-session": [OPEN_IMPORTER, req(2, "ping", {}), req(3, "list", {}),
                         req(4, "read", {"path": "/a.bin", "offset": 0, "length": 64}),
                         req(5, "read", {"path": "/a.bin", "offset": 64, "length": 1000}),
                         req("six", "read", {"path": "/c/d.txt", "offset": 29, "length": 1}),
                         req(7, "close", {})],
    "exporter-session": [OPEN_EXPORTER, req(2, "ping"),
                         write(3, "/instance.json", 0, b'{"a":1}'),
                         write(4, "/instance.json", 7, b"tail", eof=True, info=False),
                         write(5, "/vol/disk.qcow2", 0, b"QFI\xfb\x00\x00\x00\x03", eof=True),
                         write(6, "/fail.bin", 0, b"x"), write(7, "/fail.bin", 1, b"y", eof=True, info=False),
                         req(8, "close", {}), req(9, "close", {})],
    "before-open": [req(1, "list", {}), req(2, "read", {"path": "/a", "offset": 0, "length": 1}),
                    write(3, "/a", 0, b"x"), req(4, "ping"), req(5, "close")],
    "after-close": [OPEN_EXPORTER, req(2, "close"), write(3, "/a", 0, b"x", eof=True), req(4, "open", {"protocol": "memory-test", "mode": "importer", "config": {}})],
    "out-of-order-writes": [OPEN_EXPORTER, write(2, "/a", 0, b"abc"), write(3, "/a", 10, b"def", info=False),
                            write(4, "/b", 0, b"x"), write(5, "/a", 3, b"g", eof=True, info=False),
                            write(6, "/a", 0, b"again", eof=True), req(7, "close")],
    "duplicate-ids": [OPEN_IMPORTER, req(2, "read", {"path": "/a.bin", "offset": 0, "length": 10}),
                      req(2, "read", {"path": "/a.bin", "offset": 0, "length": 10}), req(2, "ping")],
    "cancel": [OPEN_IMPORTER, req(2, "list"), note("$/cancelRequest", {"id": 2}), note("$/cancelRequest", {"id": "nope"}),
               note("$/cancelRequest", {}), req(3, "close")],
    "hostile-params": [OPEN_IMPORTER,
                       req(2, "read", {"path": "/../../etc/passwd", "offset": -1, "length": 10}),
                       req(3, "read", {"path": "/a.bin", "offset": 18446744073709551616, "length": 1e400}),
                       req(4, "read", {"path": "/a.bin", "offset": 9223372036854775807, "length": 16777216}),
                       req(5, "read", {"path": 7, "offset": "0", "length": None}),
                       req(6, "read", {"path": "/a.bin", "offset": 0, "length": 0, "extra": True}),
                       req(7, "read", ["/a.bin", 0, 1]), req(8, "list", {"x": 1}), req(9, "ping", "str")],
    "hostile-open": [req(1, "open", {"protocol": "nope", "mode": "importer", "config": {}}),
                     req(2, "open", {"protocol": "memory-test", "mode": "both", "config": {}}),
                     req(3, "open", {"protocol": "memory-test", "mode": "importer", "config": {"files": "a:b"}}),
                     req(4, "open", {"protocol": "memory-test", "mode": "importer", "config": {"n": 1}}),
                     req(5, "open", {"protocol": "memory-test", "mode": "importer", "config": {"fail_open": "auth"}}),
                     req(6, "open", {"protocol": "memory-test", "mode": "importer", "config": {"files": "/x:9223372036854775807"}}),
                     req(7, "read", {"path": "/x", "offset": 9223372036854775000, "length": 16777216})],
    "hostile-writes": [OPEN_EXPORTER, write(2, "../../escape", 0, b"x", eof=True),
                       req(3, "write", {"path": "/a", "offset": 0, "data": "not base64!", "fileinfo": FILEINFO}),
                       req(4, "write", {"path": "/a", "offset": 0, "data": "QQ=", "fileinfo": FILEINFO}),
                       req(5, "write", {"path": "/a", "offset": 0, "data": "QQ==", "fileinfo": dict(FILEINFO, mod_time="yesterday")}),
                       req(6, "write", {"path": "/a", "offset": 0, "data": "QQ==", "fileinfo": dict(FILEINFO, size=-2, mode=4294967296)}),
                       req(7, "write", {"path": "/a", "offset": 0, "data": "A" * 5000, "fileinfo": FILEINFO, "eof": True})],
}

lines = {
    "deep-nesting": b'{"jsonrpc":"2.0","id":1,"method":"ping","params":' + b"[" * 200 + b"]" * 200 + b"}",
    "deep-objects": b'{"a":' * 130 + b"1" + b"}" * 130,
    "huge-numbers": b'{"jsonrpc":"2.0","id":123456789012345678901234567890,"method":"ping","params":{"n":-0.0e-99999,"m":1E+400}}',
    "duplicate-keys": b'{"jsonrpc":"2.0","id":1,"id":2,"method":"ping"}',
    "duplicate-keys-large": b"{" + b",".join(b'"k%d":%d' % (i, i) for i in range(20)) + b',"k3":0}',
    "raw-nul": b'{"jsonrpc":"2.0","id":1,"method":"pi\x00ng"}',
    "escaped-nul": b'{"jsonrpc":"2.0","id":"\\u0000","method":"ping\\u0000"}',
    "invalid-utf8": b'{"jsonrpc":"2.0","id":1,"method":"\xc0\x80\xed\xa0\x80\xf4\x90\x80\x80\xff"}',
    "lone-surrogate": b'{"jsonrpc":"2.0","id":"\\ud800","method":"\\udc00\\ud83d\\ude00"}',
    "crlf": b'{"jsonrpc":"2.0","id":1,"method":"ping"}\r\n\r\n \t \r\n{"jsonrpc":"2.0","id":2,"method":"ping"}\r',
    "batch": b'[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":2,"method":"ping"}]',
    "wrong-types": b'{"jsonrpc":2.0,"id":null,"method":["ping"],"params":"x"}\n{"jsonrpc":"2.0","id":{},"method":"ping"}\n{"jsonrpc":"2.0","id":true,"method":7}',
    "not-requests": b'42\n"text"\nnull\ntrue\n{}\n{"jsonrpc":"2.0","id":1,"result":{}}\n{"jsonrpc":"2.0","id":1,"error":{"code":1}}',
    "unknown-method": b'{"jsonrpc":"2.0","id":1,"method":"rm -rf"}\n{"jsonrpc":"2.0","method":"unknown/notification","params":{}}',
    "truncated": b'{"jsonrpc":"2.0","id":"keep-me","method":"ping","params":{"a":[1,2,',
    "escapes": b'{"s":"\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\u20AC\\uD83D\\uDE00","t":"\\x"}',
    "literals": b'[true,false,null,tru,nul,-,01,1.,1e,-1.5E-3,0.0]',
    "oversized": b'{"jsonrpc":"2.0","id":99,"method":"write","params":{"data":"' + b"QUFB" * 1200 + b'"}}',
    "no-final-newline": b'{"jsonrpc":"2.0","id":1,"method":"ping"}',
}


def put(directory, name, data):
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, name), "wb") as f:
        f.write(data)


reader_dir = os.path.join(HERE, "corpus", "jsonrpc-reader")
dispatch_dir = os.path.join(HERE, "corpus", "jsonrpc-dispatch")
docs = {name: b"\n".join(s) + b"\n" for name, s in sessions.items()}
docs.update(lines)
for name, data in docs.items():
    put(dispatch_dir, name, data)
    # Configuration bytes: line limit (bits 0-1) and read size (bits 2-4).
    for config in (0x03 | 7 << 2, 0x02 | 3 << 2, 0x01 | 1 << 2, 0x00):
        put(reader_dir, "%s-%02x" % (name, config), bytes([config]) + data)
print("make-json-seeds.py: %d dispatch seeds, %d reader seeds" % (len(docs), 4 * len(docs)), file=sys.stderr)
