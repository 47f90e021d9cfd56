#!/usr/bin/env python3
"""Writes the seed inputs of the fuzz corpus, fuzz/corpus/TARGET/seed-*.

The seeds are small real inputs: files of ../shared/data (the real narinfos
of `guix publish`, Nix's NAR fixtures, real `.drv` files, Guix's mirror
lists), the test vectors of the crates, and inputs built here from them in
the shape each harness expects (a first byte that picks a mode or a
compression, sections separated as the snapshot harness splits them). The
fuzzers add what they find next to them (`scripts/fuzz.sh --keep`);
fuzz/README.md lists where each seed comes from.

Usage: fuzz/make-seeds.py [SHARED_DATA_DIR]   (default ../shared/data)
Two kinds of seed need abovo itself, given as $ABOVO (a built `abovo`
binary): the snapshots (`abovo snapshot create`) and the secret keys
(`abovo key generate`); without it they are left as they are.
"""

import bz2
import gzip
import hashlib
import io
import lzma
import os
import struct
import subprocess
import sys
import tarfile
import tempfile
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "..", "shared", "data"))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")
STORE = "/gnu/store"
HELLO = "crates/abovo-store/benches/data/2nfg943asrl9dv64zrr1a4kpb25mfafd-hello-2.12.2.drv"
HELLO_TARBALL = "crates/abovo-store/benches/data/w6bkxpsp34j667d04z7n1jiksd86dfjc-hello-2.12.2.tar.gz.drv"


def read(path):
    with open(path if os.path.isabs(path) else os.path.join(ROOT, path), "rb") as f:
        return f.read()


def data(*parts):
    return read(os.path.join(DATA, *parts))


def seed(target, name, content, replace=True):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if not replace and os.path.exists(os.path.join(d, "seed-" + name)):
        return
    if isinstance(content, str):
        content = content.encode()
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(content)


NIX32 = "0123456789abcdfghijklmnpqrsvwxyz"


def nix32(b):
    n = (len(b) * 8 - 1) // 5 + 1
    out = []
    for i in range(n - 1, -1, -1):
        bit = i * 5
        j, k = divmod(bit, 8)
        c = b[j] >> k
        if j + 1 < len(b):
            c |= b[j + 1] << (8 - k)
        out.append(NIX32[c & 0x1F])
    return "".join(out)


def nar_str(b):
    return struct.pack("<Q", len(b)) + b + b"\0" * (-len(b) % 8)


def nar_file(contents, executable=False):
    """The NAR of one regular file."""
    tokens = [b"nix-archive-1", b"(", b"type", b"regular"]
    if executable:
        tokens += [b"executable", b""]
    tokens += [b"contents", contents, b")"]
    return b"".join(nar_str(t) for t in tokens)


def nar_dir(entries):
    """The NAR of a directory of regular files and symlinks, `entries`
    a sorted list of (name, contents or ('link', target))."""
    out = [b"nix-archive-1", b"(", b"type", b"directory"]
    for name, node in entries:
        out += [b"entry", b"(", b"name", name, b"node", b"(", b"type"]
        if isinstance(node, tuple):
            out += [b"symlink", b"target", node[1]]
        else:
            out += [b"regular", b"contents", node]
        out += [b")", b")"]
    out.append(b")")
    return b"".join(nar_str(t) for t in out)


def compress(kind, b):
    if kind == "zstd":
        return subprocess.run(["zstd", "-q", "-c", "-3"], input=b, capture_output=True, check=True).stdout
    if kind == "xz":
        return lzma.compress(b, preset=1)
    if kind == "gzip":
        return gzip.compress(b, mtime=0)
    if kind == "bzip2":
        return bz2.compress(b)
    if kind == "lzip":
        return lzip(b)
    return b


def lzip(b, dict_log=16):
    """An lzip member: LZMA data (lc=3 lp=0 pb=2, end marker) between lzip's
    header and trailer, as `lzip` writes it."""
    filters = [{"id": lzma.FILTER_LZMA1, "dict_size": 1 << dict_log, "lc": 3, "lp": 0, "pb": 2}]
    alone = lzma.compress(b, format=lzma.FORMAT_ALONE, filters=filters)
    out = b"LZIP\x01" + bytes([dict_log]) + alone[13:]
    out += struct.pack("<IQ", zlib.crc32(b), len(b))
    return out + struct.pack("<Q", len(out) + 8)


# The order of abovo_fetch::compression::Compression::ALL.
FETCH_COMPRESSIONS = ["zstd", "lzip", "xz", "gzip", "bzip2", "none"]


def http(status, body, headers=()):
    head = f"HTTP/1.1 {status}\r\n" + "".join(f"{h}\r\n" for h in headers)
    return head.encode() + b"\r\n" + body


def tar_of(members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as t:
        for name, content in members:
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mode = 0o444
            info.mtime = 1
            t.addfile(info, io.BytesIO(content))
    return buf.getvalue()


def main():
    hello_nar_gz = data("guix-publish-fixtures", "2nfg943asrl9dv64zrr1a4kpb25mfafd-hello-2.12.2.drv.nar.gz")
    hello_nar = gzip.decompress(hello_nar_gz)
    small_nars = {
        "conf-multi": data("daemon-conformance", "nar", "ajyibqk8ayaq4m15x6r1f2ln2c3mv6kq-conf-multi.nar"),
        "conf-fod-flat": data("daemon-conformance", "nar", "v40yaym6gxq1znp9f0mn94z0pzpzydhi-conf-fod-flat.nar"),
        "conf-nondet": data("daemon-conformance", "nar", "miqbc68ghc8v5acj46v85vvf8s7fb5c1-conf-nondet.nar"),
        "hello-file": nar_file(b"hello\n"),
        "exec-and-link": nar_dir([(b"bin", ("link", b"/gnu/store/0mdqa9w1p6cmli6976v4wi0sw9r4p5pr-dep/bin")), (b"x", b"#!/bin/sh\n")]),
    }

    # aterm: real .drv files (Guix's, Nix's, a fixed-output builtin:download).
    for path in [HELLO, HELLO_TARBALL]:
        seed("aterm", os.path.basename(path), read(path))
    for sub in ["ia", "ca", "fuzzcorpus"]:
        d = os.path.join(DATA, "nix-derivation-fixtures", "named", sub)
        for name in sorted(os.listdir(d)):
            seed("aterm", f"nix-{sub}-{name}", data("nix-derivation-fixtures", "named", sub, name))

    # nar and challenge_nar_listing, nar_stream: Nix's NAR fixtures (valid and
    # hostile), NARs guix-daemon 1.5.0 made, and a few built here.
    d = os.path.join(DATA, "nix-nar-fixtures")
    for name in sorted(os.listdir(d)):
        if name.endswith(".nar"):
            seed("nar", "nix-" + name, data("nix-nar-fixtures", name))
    for name, nar in small_nars.items():
        seed("nar", name + ".nar", nar)
    seed("nar", "hello-drv.nar", hello_nar)
    for i, kind in enumerate(FETCH_COMPRESSIONS):
        for name in ["conf-multi", "exec-and-link"]:
            seed("nar_stream", f"{name}.nar.{kind}", bytes([i]) + compress(kind, small_nars[name]))
            seed("challenge_nar_listing", f"{name}.nar.{kind}", bytes([i]) + compress(kind, small_nars[name]))
    seed("nar_stream", "hello-drv.nar.gz", bytes([3]) + hello_nar_gz)

    # narinfo: the real narinfos of guix publish 1.5.0 (signed).
    d = os.path.join(DATA, "guix-publish-fixtures")
    for name in sorted(os.listdir(d)):
        if name.endswith(".narinfo") and os.path.getsize(os.path.join(d, name)) < 4096:
            seed("narinfo", name, data("guix-publish-fixtures", name))

    # substitute: truthful mode (odd first byte: the harness compresses and
    # describes the NAR) and hostile mode (narinfo, NUL, NAR file).
    for i, name in enumerate(["hello-file", "conf-multi", "exec-and-link", "conf-fod-flat"]):
        seed("substitute", f"truthful-{name}", bytes([1 + 2 * i]) + small_nars[name])
    nar = small_nars["conf-multi"]
    for kind in ["none", "xz"]:
        file = compress(kind, nar)
        info = (
            "StorePath: /gnu/store/0mdqa9w1p6cmli6976v4wi0sw9r4p5pr-hello-2.12.2\n"
            f"URL: nar/{kind}/0mdqa9w1p6cmli6976v4wi0sw9r4p5pr-hello-2.12.2\n"
            f"Compression: {kind}\n"
            f"FileSize: {len(file)}\n"
            f"NarHash: sha256:{nix32(hashlib.sha256(nar).digest())}\n"
            f"NarSize: {len(nar)}\n"
            "References: \n"
        )
        seed("substitute", f"hostile-{kind}", b"\0" + info.encode() + b"\0" + file)

    # http_response: whole answers of a server.
    body = b"StorePath: /gnu/store/0mdqa9w1p6cmli6976v4wi0sw9r4p5pr-x\n"
    seed("http_response", "200-length", http("200 OK", body, [f"Content-Length: {len(body)}"]))
    seed("http_response", "200-chunked", http("200 OK", b"5\r\nhello\r\n0\r\n\r\n", ["Transfer-Encoding: chunked"]))
    seed("http_response", "206-range", http("206 Partial Content", b"llo", ["Content-Range: bytes 2-4/5", "Content-Length: 3"]))
    seed("http_response", "404", http("404 Not Found", b"", ["Content-Length: 0"]))
    seed("http_response", "301", http("301 Moved Permanently", b"", ["Location: /y", "Content-Length: 0"]))
    seed("http_response", "200-close", http("200 OK", b"until the connection closes", ["Connection: close"]))

    # nixbase32 and store_path (first byte: 0 paths, 1 hashes, 2 signatures).
    h = hashlib.sha256(b"abovo").digest()
    seed("nixbase32", "sha256", nix32(h))
    seed("nixbase32", "hash-part", "0mdqa9w1p6cmli6976v4wi0sw9r4p5pr")
    seed("store_path", "path", b"\0" + f"{STORE}/2nfg943asrl9dv64zrr1a4kpb25mfafd-hello-2.12.2.drv".encode())
    seed("store_path", "inside", b"\0" + f"{STORE}/0mdqa9w1p6cmli6976v4wi0sw9r4p5pr-hello-2.12.2/bin/hello".encode())
    seed("store_path", "nix-store", b"\0/nix/store\t/nix/store/dvb2sbdm47l3sbqm2qac2g75rjfmkybx-hello-2.12.1.drv")
    seed("store_path", "nix32", b"\1sha256:" + nix32(h).encode())
    seed("store_path", "base16", b"\1sha256:" + h.hex().encode())
    seed("store_path", "sri", b"\1sha512-" + __import__("base64").b64encode(hashlib.sha512(b"abovo").digest()))
    seed("store_path", "md5", b"\1md5:" + hashlib.md5(b"abovo").hexdigest().encode())
    info = data("guix-publish-fixtures", "ajyibqk8ayaq4m15x6r1f2ln2c3mv6kq.narinfo").decode()
    sig = next(l for l in info.splitlines() if l.startswith("Signature: "))[len("Signature: "):]
    seed("store_path", "signature", b"\2" + sig.encode())

    # references: four chunk sizes, then text that names store paths.
    seed("references", "builder", b"\x07\x21\x00\x40" + read(HELLO))
    seed("references", "script", b"\x01\x02\x03\x04#!/gnu/store/0mdqa9w1p6cmli6976v4wi0sw9r4p5pr-bash/bin/sh\nexec /gnu/store/1ysbwi8icaw2g5qmwjf9k0qd4d9gazd9-other/bin/x\n")

    # lzip: a member (even first byte) and data for the round trip (odd).
    seed("lzip", "member", b"\0" + lzip(b"hello lzip " * 40))
    seed("lzip", "two-members", b"\0" + lzip(b"first ") + lzip(b"second", 12))
    seed("lzip", "data", b"\1" + read(HELLO)[:600])

    # sexp: the mirror lists and the content-addressed mirrors program of
    # Guix 1.5.0 (as its store holds them), and a `url` value.
    mirrors = read("crates/abovo-fetch/data/guix-1.5.0/qw8jnq1mlk8f8y6nnyk5p0h5m49dyymf-mirrors")
    seed("sexp", "mirrors-head", mirrors[: mirrors.index(b") (", 1500) + 1] + b")")
    seed("sexp", "content-addressed-mirrors", read("crates/abovo-fetch/data/guix-1.5.0/wg1yp2vx8gb7qmcgyibqnwblahpp4bjg-content-addressed-mirrors"))
    seed("sexp", "url-list", '("mirror://gnu/hello/hello-2.12.2.tar.gz" "https://x/\\"q\\".tgz" "\\x41;\\n")')

    # authorized_keys: guix publish's public key and a Nix key.
    seed("authorized_keys", "acl", "(acl\n (entry " + data("guix-publish-fixtures", "signing-key.pub").decode() + " (tag (guix import))))\n")
    seed("authorized_keys", "nix", "cache.nixos.org-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY=\n")

    # debian_sources: a stanza as Debian's Sources index has it.
    seed("debian_sources", "stanza", (
        "Package: hello\nBinary: hello\nVersion: 2.10-3\nDirectory: pool/main/h/hello\n"
        "Checksums-Sha256:\n"
        " 35bd4e5c1c2e7e4c2f3c9d9d0d2f0bba7d4c0b3c9d2e6e5f5c5e4a3c3b2a1a0f 1850 hello_2.10-3.dsc\n"
        " 31e066137a962676e89f69d1b65382de95a7ef7d914b8cb956f41ea72e0f516b 725946 hello_2.10.orig.tar.gz\n\n"))

    # tables (first byte: 0 packages, 1 store-meta, 2 package-edges,
    # 3 bag-emerged-edges): rows of the real Guix 1.5.0 tables that name
    # Hello, whose derivation the harness loads.
    def rows(name, keep, header=True, limit=12):
        text = subprocess.run(["zstd", "-dc", os.path.join(DATA, "guix-1.5.0", name)], capture_output=True, check=True).stdout
        lines = text.split(b"\n")
        picked = [l for l in lines[1 if header else 0:] if keep(l)][:limit]
        return b"\n".join(([lines[0]] if header else []) + picked) + b"\n"

    hello_drv = b"2nfg943asrl9dv64zrr1a4kpb25mfafd-hello-2.12.2.drv"
    tarball_drv = b"w6bkxpsp34j667d04z7n1jiksd86dfjc-hello-2.12.2.tar.gz.drv"
    seed("tables", "packages", b"\0" + rows("packages.tsv.zst", lambda l: l.startswith(b"hello\t") or l.startswith(b"abiword\t")))
    meta = rows("store-meta.tsv.zst", lambda l: hello_drv in l.split(b"\t")[0] or tarball_drv in l.split(b"\t")[0] or b"hello-2.12.2-builder" in l.split(b"\t")[0] or b"-mirrors\t" in l)
    seed("tables", "store-meta", b"\1" + meta)
    seed("tables", "store-meta.zst", b"\1" + compress("zstd", meta))
    seed("tables", "package-edges", b"\2" + rows("package-edges.tsv.zst", lambda l: l.startswith(b"hello@2.12.2\t"), header=False))
    seed("tables", "bag-emerged-edges", b"\3" + rows("bag-emerged-edges.tsv.zst", lambda l: l.startswith(b"hello@2.12.2\t"), header=False))

    # package_meta and texinfo: Hello's row of packages-meta.tsv; its
    # description (first byte: the width).
    pm = rows("packages-meta.tsv.zst", lambda l: l.startswith(b"hello\t") or l.startswith(b"0ad\t"), header=False, limit=2)
    seed("package_meta", "hello", pm)
    for line in pm.split(b"\n"):
        fields = line.split(b"\t")
        if len(fields) > 7:
            desc = fields[7].replace(b"\\n", b"\n").replace(b"\\t", b"\t").replace(b"\\\\", b"\\")
            seed("texinfo", fields[0].decode() + "-description", b"\x48" + desc)
    seed("texinfo", "markup", b"\x28" + b"@code{x} and @emph{y}, @url{https://gnu.org, GNU}.\n\n@itemize\n@item one\n@item two\n@end itemize\n")

    # items and scan: small archives of every kind.
    drv = read(HELLO)
    members = [("bin/hello", b"\x7fELF\x02\x01\x01" + b"\0" * 57), ("share/doc/README", b"Hello.\n"), ("x.drv", drv)]
    t = tar_of(members)
    for kind, ext in [("none", "tar"), ("gzip", "tar.gz"), ("xz", "tar.xz"), ("zstd", "tar.zst"), ("bzip2", "tar.bz2"), ("lzip", "tar.lz")]:
        seed("items", ext, compress(kind, t))
        seed("scan", ext, compress(kind, t))
    seed("items", "path", f"{STORE}/0mdqa9w1p6cmli6976v4wi0sw9r4p5pr-hello-2.12.2/share/doc/README")

    # place_tarball: a tarball of real .drv files.
    seed("place_tarball", "hello", tar_of([(os.path.basename(HELLO), read(HELLO)), (os.path.basename(HELLO_TARBALL), read(HELLO_TARBALL))]))

    # graph_load: the same, plain and as zstd, and a snapshot (below).
    drvs_tar = tar_of([(os.path.basename(HELLO), read(HELLO)), (os.path.basename(HELLO_TARBALL), read(HELLO_TARBALL))])
    seed("graph_load", "hello.tar", drvs_tar)
    seed("graph_load", "hello.tar.zst", compress("zstd", drvs_tar))

    # publish_route: the paths a substitute client asks for.
    for name, path in [("cache-info", "/nix-cache-info"), ("narinfo", "/0mdqa9w1p6cmli6976v4wi0sw9r4p5pr.narinfo"),
                       ("nar", "/nar/gzip/0mdqa9w1p6cmli6976v4wi0sw9r4p5pr-hello-2.12.2"),
                       ("nar-none", "/nar/0mdqa9w1p6cmli6976v4wi0sw9r4p5pr-hello-2.12.2"),
                       ("file", "/file/hello-2.12.2.tar.gz/sha256/" + nix32(h))]:
        seed("publish_route", name, path)

    abovo = os.environ.get("ABOVO")
    if abovo:
        with tempfile.TemporaryDirectory() as tmp:
            drvs = os.path.join(tmp, "drvs")
            os.makedirs(drvs)
            for path in [HELLO, HELLO_TARBALL]:
                with open(os.path.join(drvs, os.path.basename(path)), "wb") as f:
                    f.write(read(path))
            tables = {}
            for i, name in enumerate(["packages", "store-meta"]):
                p = os.path.join(tmp, name + ".tsv")
                with open(p, "wb") as f:
                    f.write(open(os.path.join(CORPUS, "tables", "seed-" + name), "rb").read()[1:])
                tables[name] = p
            snap = os.path.join(tmp, "s.abovo-snapshot")
            # Relative paths: the snapshot's description is where it came from.
            subprocess.run([abovo, "snapshot", "create", "--from", "drvs", "--package-table", "packages.tsv",
                            "--meta", "store-meta.tsv", "--level", "3", "-o", snap], check=True, capture_output=True, cwd=tmp)
            whole = read(snap)
            seed("snapshot", "hello", b"\0" + whole)
            seed("graph_load", "hello.abovo-snapshot", whole)
            # The decompressed sections, separated as the harness splits them.
            (count,) = struct.unpack_from("<I", whole, 52)
            lengths = struct.unpack_from(f"<{count}Q", whole, 56)
            at = 56 + 8 * count
            sections = []
            for n in lengths:
                frame = whole[at:at + n]
                at += n
                sections.append(subprocess.run(["zstd", "-dc"], input=frame, capture_output=True, check=True).stdout)
            seed("snapshot", "hello-sections", b"\1" + b"\n@@section@@\n".join(sections))
            # The in-place form (version 3): whole, and as its 17 sections
            # (the table's offsets and lengths say where each one is).
            subprocess.run([abovo, "snapshot", "create", "--from", "drvs", "--package-table", "packages.tsv",
                            "--meta", "store-meta.tsv", "--in-place", "-o", snap + "3"],
                           check=True, capture_output=True, cwd=tmp)
            whole = read(snap + "3")
            seed("snapshot", "hello-in-place", b"\0" + whole)
            (count,) = struct.unpack_from("<I", whole, 12)
            parts = []
            for i in range(count):
                start, n = struct.unpack_from("<QQ", whole, 32 + 24 * i)
                parts.append(whole[start:start + n])
            seed("snapshot", "hello-in-place-sections", b"\3" + b"\n@@section@@\n".join(parts))
            keys = os.path.join(tmp, "key")
            subprocess.run([abovo, "key", "generate", "--name", "fuzz-1", "-o", keys], check=True, capture_output=True)
            for name in sorted(os.listdir(keys)):
                if name.endswith(".sec"):
                    # A key made for the corpus, signing nothing; kept once made.
                    seed("signing_key", name, read(os.path.join(keys, name)), replace=False)


if __name__ == "__main__":
    main()
