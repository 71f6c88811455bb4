#!/usr/bin/env python3
"""Which b-trees the SQLite writer's commits write: reads copies of a WAL file taken while the
gateway ran, and counts each commit's frames by the table or index their page belongs to
(SQLite's `dbstat` table of the database, read after the gateway stopped).

    benches/wal_frames.py DATABASE WAL_COPY [WAL_COPY ...]
    benches/wal_frames.py --commits WAL_COPY     (prints how many commits the copy holds)

The requests a commit stored are told by the table `requests` (one row per permit request):
the highest row id on its leaf pages in the commit, less the one of the commit before. The
first commit of each copy is left out (it has no commit before it in the copy), and so is the
last (SQLite may have been writing its pages when the copy was taken).
"""
import collections
import sqlite3
import struct
import sys

WAL_HEADER = 32
FRAME_HEADER = 24


def owners(db):
    """Page number -> (b-tree name, page type) from dbstat."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT name, pageno, pagetype FROM dbstat").fetchall()
    except sqlite3.OperationalError as e:
        sys.exit(f"{db}: dbstat is not available in this SQLite ({e})")
    finally:
        con.close()
    return {pageno: (name, kind) for name, pageno, kind in rows}


def commits(path):
    """The page size and the commits (lists of (page number, page)) of the valid frames of a
    WAL."""
    data = open(path, "rb").read()
    if len(data) < WAL_HEADER:
        sys.exit(f"{path}: shorter than a WAL header")
    magic, _version, page_size, _seq, salt1, salt2 = struct.unpack(">IIIIII", data[:24])
    if magic not in (0x377F0682, 0x377F0683):
        sys.exit(f"{path}: not a WAL file (magic {magic:#x})")
    out, current, off = [], [], WAL_HEADER
    while off + FRAME_HEADER + page_size <= len(data):
        page, size_after, s1, s2 = struct.unpack(">IIII", data[off : off + 16])
        if (s1, s2) != (salt1, salt2):
            break  # frames of an earlier generation of the WAL
        body = data[off + FRAME_HEADER : off + FRAME_HEADER + page_size]
        current.append((page, body))
        if size_after:
            out.append(current)
            current = []
        off += FRAME_HEADER + page_size
    return page_size, out


def varint(buf, i):
    """SQLite's variable-length integer at buf[i]: (value, next index)."""
    v = 0
    for k in range(8):
        b = buf[i + k]
        v = (v << 7) | (b & 0x7F)
        if b < 0x80:
            return v, i + k + 1
    return (v << 8) | buf[i + 8], i + 9


def max_rowid(page, first):
    """The highest row id on a table b-tree leaf page (`first`: where its header starts)."""
    if page[first] != 0x0D:
        return None
    cells = struct.unpack(">H", page[first + 3 : first + 5])[0]
    top = None
    for c in range(cells):
        ptr = struct.unpack(">H", page[first + 8 + 2 * c : first + 10 + 2 * c])[0]
        _, i = varint(page, ptr)
        rowid, _ = varint(page, i)
        top = rowid if top is None else max(top, rowid)
    return top


def main(argv):
    if len(argv) == 2 and argv[0] == "--commits":
        print(len(commits(argv[1])[1]))
        return
    if len(argv) < 2:
        sys.exit(__doc__)
    db, wals = argv[0], argv[1:]
    owner = owners(db)
    counts = collections.Counter()
    n = frames = requests = 0
    page_size = None
    for wal in wals:
        page_size, txs = commits(wal)
        txs = txs[:-1]
        before = None
        for k, tx in enumerate(txs):
            tops = [
                max_rowid(body, 100 if page == 1 else 0)
                for page, body in tx
                if owner.get(page) == ("requests", "leaf")
            ]
            top = max((t for t in tops if t is not None), default=None)
            if k > 0 and top is not None and before is not None:
                n += 1
                frames += len(tx)
                requests += top - before
                for page, _ in tx:
                    counts[owner.get(page, ("(freed or new since)", "-"))] += 1
            if top is not None:
                before = top
    if n == 0 or requests == 0:
        sys.exit("no complete commit with permit requests in the WAL copies")
    per = requests / n
    print(
        f"page size {page_size}; {n} commits of {per:.1f} permit requests on average; "
        f"{frames / n:.1f} frames per commit, {frames / requests:.2f} per request"
    )
    print(f"{'b-tree':<40} {'page':<9} {'per commit':>10} {'per request':>11}")
    for (name, kind), c in counts.most_common():
        print(f"{name:<40} {kind:<9} {c / n:>10.2f} {c / requests:>11.2f}")


if __name__ == "__main__":
    main(sys.argv[1:])
