#!/usr/bin/env python3
"""Builds data/general-english/general-english.jsonl from Debian's r-cran-janeaustenr package.

The package holds Jane Austen's six novels as R character vectors (one element per printed line) in an R lazy-load
database (data/Rdata.rdb: each object a 4-byte length and a zlib stream of R's XDR serialization). This reads the
vectors without R, joins lines into paragraphs (blank lines between), keeps paragraphs of 60 to 250 words, and takes
PER_NOVEL of them evenly spaced through each novel, interleaved novel by novel so that the first N records of the
file are a balanced sample for any N.

    apt-get download r-cran-janeaustenr   # 1.0.0-1
    python3 tools/forgetting/prepare_general_english.py r-cran-janeaustenr_1.0.0-1_all.deb data/general-english/general-english.jsonl
"""
import io, json, struct, subprocess, sys, tarfile, tempfile, zlib, os

PER_NOVEL = 22
NOVELS = ["Emma", "Mansfield Park", "Northanger Abbey", "Persuasion", "Pride and Prejudice", "Sense and Sensibility"]


def rdb_vectors(data):
    at, vectors = 0, []
    while at < len(data) - 4:
        d = zlib.decompressobj()
        out = d.decompress(data[at + 4:])
        at = len(data) - len(d.unused_data)
        assert out[:2] == b"X\n", "not an XDR serialization"
        p = 2
        version = struct.unpack(">I", out[p:p + 4])[0]
        p += 12
        if version == 3:
            p += 4 + struct.unpack(">I", out[p:p + 4])[0]
        flags = struct.unpack(">I", out[p:p + 4])[0]
        assert flags & 0xFF == 16, "not a character vector"
        n = struct.unpack(">i", out[p + 4:p + 8])[0]
        p += 8
        lines = []
        for _ in range(n):
            length = struct.unpack(">i", out[p + 4:p + 8])[0]
            p += 8
            if length < 0:
                lines.append("")
                continue
            lines.append(out[p:p + length].decode("utf-8"))
            p += length
        vectors.append(lines)
    return vectors


def paragraphs(lines):
    current = []
    for line in lines + [""]:
        if line.strip():
            current.append(line.strip())
        elif current:
            yield " ".join(current)
            current = []


def main(deb, out):
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["dpkg-deb", "-x", deb, tmp], check=True)
        rdb = open(os.path.join(tmp, "usr/lib/R/site-library/janeaustenr/data/Rdata.rdb"), "rb").read()
    vectors = rdb_vectors(rdb)
    assert len(vectors) == len(NOVELS), len(vectors)
    picked = []
    for name, lines in zip(NOVELS, vectors):
        kept = [p for p in paragraphs(lines) if 60 <= len(p.split()) <= 250]
        step = len(kept) / PER_NOVEL
        picked.append([(name, kept[int(i * step)]) for i in range(PER_NOVEL)])
    with open(out, "w", encoding="utf-8", newline="\n") as f:
        for i in range(PER_NOVEL):
            for novel in picked:
                name, text = novel[i]
                f.write(json.dumps({"text": text, "source": name}, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
