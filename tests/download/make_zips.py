#!/usr/bin/env python3
"""make_zips.py DATA_DIR OUT_DIR — builds the archives the download tests serve,
from the real dataset files: good copies in the GroupLens layout and broken ones
(one byte changed, truncated, wrong size, an entry escaping the directory)."""
import os
import sys
import zipfile


def files_of(data_dir, name):
    d = os.path.join(data_dir, name)
    if not os.path.isdir(d):
        sys.exit(f"make_zips.py: {d} is missing")
    out = {}
    for f in sorted(os.listdir(d)):
        with open(os.path.join(d, f), "rb") as fh:
            out[f] = fh.read()
    return out


def write_zip(path, name, entries, extra=()):
    """entries: list of (file name, bytes), stored under name/ like GroupLens does."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        z.writestr(name + "/", b"")
        for f, data in entries:
            z.writestr(f"{name}/{f}", data)
        for arcname, data in extra:
            z.writestr(arcname, data)


def main():
    data_dir, out = sys.argv[1], sys.argv[2]
    m100 = files_of(data_dir, "ml-100k")
    small = files_of(data_dir, "ml-latest-small")

    # The real ml-100k.zip also ships two scripts; they must be skipped, not kept.
    good = os.path.join(out, "good", "ml-100k.zip")
    write_zip(good, "ml-100k", list(m100.items()),
              extra=[("ml-100k/allbut.pl", b"#!/usr/bin/perl\n"), ("ml-100k/mku.sh", b"#!/bin/sh\n")])
    write_zip(os.path.join(out, "good", "ml-latest-small.zip"), "ml-latest-small", list(small.items()))

    # u.data last, so verified files are already on disk when the check fails.
    udata = bytearray(m100["u.data"])
    udata[len(udata) // 2] ^= 0x01
    rest = [(f, b) for f, b in m100.items() if f != "u.data"]
    write_zip(os.path.join(out, "corrupt", "ml-100k.zip"), "ml-100k", rest + [("u.data", bytes(udata))])

    with open(good, "rb") as fh:
        blob = fh.read()
    os.makedirs(os.path.join(out, "truncated"), exist_ok=True)
    with open(os.path.join(out, "truncated", "ml-100k.zip"), "wb") as fh:
        fh.write(blob[: len(blob) * 2 // 3])

    write_zip(os.path.join(out, "wrongsize", "ml-100k.zip"), "ml-100k",
              [("u.data", m100["u.data"] + b"1\t1\t5\t874724710\n")] + rest)

    write_zip(os.path.join(out, "evil", "ml-100k.zip"), "ml-100k", [("u.info", m100["u.info"])],
              extra=[("ml-100k/../../escaped.txt", b"gotcha\n")])


if __name__ == "__main__":
    main()
