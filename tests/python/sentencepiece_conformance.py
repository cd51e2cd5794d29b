"""Cross-checks Slim's SentencePiece tokenizer (tokenizer.model) against the `sentencepiece` package.

Small models are trained with the reference trainer on State of the Union addresses (public
domain) up to 1900: BPE and unigram, with and without byte fallback, with the default nmt_nfkc
normalization, nmt_nfkc_cf, and identity (Llama-style: no whitespace cleanup), one with
user-defined and control symbols, one treating whitespace as a suffix. Each model is written as
<dir>/tokenizer.model and then:

1. Encoding: the sentences of the addresses after 1900 plus a set of tricky lines (whitespace
   runs, full-width and compatibility characters, emoji, scripts, control characters, invalid
   UTF-8, special-token text) go to `slim tokenize --model_path DIR --file F --lines --ids
   --no_special_tokens`, whose ids must equal SentencePieceProcessor.encode for every line.
2. Decoding: the reference ids of every line go to `slim tokenize --decode --lines`, whose text
   must equal SentencePieceProcessor.decode (unk surface, byte pieces, dummy prefix).

Usage: sentencepiece_conformance.py SLIM_EXECUTABLE
Assets: $SLIM_ASSETS_DIR (default ${SLIM_CACHE:-~/.cache/slim}/assets), from scripts/fetch-assets.sh.
Exit status 77 (CTest's skip code) when the reference package or the assets are missing.
"""
import glob
import os

from conformance_support import assets_dir
import re
import subprocess
import sys
import tempfile
import time

try:
    import sentencepiece as spm
except ImportError as error:  # pragma: no cover
    print(f"SKIP: reference package missing ({error}); run scripts/setup-python.sh")
    sys.exit(77)

SLIM = sys.argv[1]
ASSETS = assets_dir()
SOTU = os.path.join(ASSETS, "sotu", "package", "data")
if not glob.glob(os.path.join(SOTU, "*.txt")):
    print(f"SKIP: assets missing ({SOTU}); run scripts/fetch-assets.sh")
    sys.exit(77)

# name -> trainer arguments (besides input, model_prefix, vocab_size)
MODELS = {
    "bpe-nfkc": dict(model_type="bpe", vocab_size=4000),
    "bpe-bytes-identity": dict(model_type="bpe", vocab_size=3000, byte_fallback=True,
                               normalization_rule_name="identity",
                               remove_extra_whitespaces=False, split_digits=True),
    "unigram-nfkc": dict(model_type="unigram", vocab_size=8000),
    "unigram-bytes-identity": dict(model_type="unigram", vocab_size=2000, byte_fallback=True,
                                   normalization_rule_name="identity",
                                   remove_extra_whitespaces=False),
    "unigram-symbols-cf": dict(model_type="unigram", vocab_size=3000,
                               normalization_rule_name="nmt_nfkc_cf",
                               user_defined_symbols=["<br>", "United States", "1776"],
                               control_symbols=["<sep>"]),
    "bpe-suffix": dict(model_type="bpe", vocab_size=2500, treat_whitespace_as_suffix=True,
                       user_defined_symbols=["Congress"]),
}

TRICKY = [
    "", " ", "   ", "\t", "a", "Hello world", " Hello world", "Hello  world  ", "  leading",
    "trailing   ", "tab\tseparated\tvalues", "mixed \t whitespace", "\u3000ideographic\u3000space",
    "ﬁnancial ﬂow — “quotes” ‘single’ …", "Ｆｕｌｌ－ｗｉｄｔｈ　ＡＢＣ１２３", "①②③ ㍻ ㌔ ½ ¼ ²³",
    "café naïve résumé", "cafe\u0301 composed vs decomposed", "Ångström Ωmega µ",
    "日本語のテキストと漢字", "中文文本测试，标点。", "한국어 텍스트", "Привет, мир!",
    "Γειά σου Κόσμε", "עברית ועוד", "مرحبا بالعالم", "हिन्दी पाठ", "ไทย ภาษา",
    "emoji 🦙🚀👍🏽 👨‍👩‍👧 ❤️", "math ∑∫√∞ ≠ ≤ ≥", "zero\u200bwidth\u200djoin",
    "control\x01\x02\x7f chars", "<s> not special </s> <unk> <pad>", "<br><br>line<br>",
    "<sep> United States1776Congress", "UNITED STATES united states", "3.14159 1,000,000 2021-01-20",
    "I've we'll they're don't", "!!!???...,,,;;;", "a" * 300, "Mr. Speaker, Mr. President",
    "\x00nul inside", "soft\u00adhyphen", "line\u2028separator", "\ufeffbom start",
]
# Raw bytes (invalid UTF-8): each invalid byte becomes U+FFFD in both implementations.
TRICKY_BYTES = [b"bad \xff byte", b"\xc3\x28 broken pair", b"trunc \xe2\x82", b"\xed\xa0\x80 surrogate",
                b"\xf0\x9f\x98 cut emoji", b"overlong \xc0\xaf", b"\x80\x80 continuation"]

failures = []
MAX_DIFFS_SHOWN = 5


def fail(message):
    failures.append(message)
    print("FAIL:", message)


def slim(*args):
    result = subprocess.run([SLIM, *args], capture_output=True)
    if result.returncode != 0:
        raise SystemExit(f"slim {' '.join(args)} failed ({result.returncode}):\n"
                         f"{result.stderr.decode(errors='replace')}")
    return result.stdout


def split_sentences(text):
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]


def read_addresses(first_year, last_year):
    texts = []
    for path in sorted(glob.glob(os.path.join(SOTU, "*.txt"))):
        year = int(os.path.basename(path)[:4])
        if first_year <= year <= last_year:
            with open(path, encoding="utf-8") as f:
                texts.append(f.read())
    return texts


def check_model(name, model_dir, lines):
    sp = spm.SentencePieceProcessor(model_file=os.path.join(model_dir, "tokenizer.model"))
    data = b"\n".join(line if isinstance(line, bytes) else line.encode("utf-8") for line in lines)
    inp = os.path.join(model_dir, "lines.txt")
    with open(inp, "wb") as f:
        f.write(data + b"\n")
    expected = [sp.encode(line) for line in lines]
    out = slim("tokenize", "--model_path", model_dir, "--file", inp, "--lines", "--ids",
               "--no_special_tokens").decode("utf-8").split("\n")
    if out and out[-1] == "":
        out.pop()
    got = [[int(w) for w in line.split()] for line in out]
    if len(got) != len(expected):
        fail(f"{name}: slim printed {len(got)} lines of ids for {len(expected)} input lines")
        return
    diffs = [i for i in range(len(lines)) if got[i] != expected[i]]
    for i in diffs[:MAX_DIFFS_SHOWN]:
        fail(f"{name}: line {i} {lines[i]!r:.200}\n  sentencepiece {expected[i]}\n  slim          "
             f"{got[i]}\n  pieces {[sp.id_to_piece(t) for t in expected[i]]}")
    if len(diffs) > MAX_DIFFS_SHOWN:
        fail(f"{name}: ... {len(diffs)} of {len(lines)} lines differ in all")
    tokens = sum(len(ids) for ids in expected)

    # Decoding the reference ids.
    ids_file = os.path.join(model_dir, "ids.txt")
    with open(ids_file, "w") as f:
        f.write("".join(" ".join(map(str, ids)) + "\n" for ids in expected))
    decoded = slim("tokenize", "--model_path", model_dir, "--file", ids_file, "--decode",
                   "--lines").decode("utf-8").split("\n")
    if decoded and decoded[-1] == "":
        decoded.pop()
    want = [sp.decode(ids) for ids in expected]
    if len(decoded) != len(want):
        fail(f"{name}: --decode printed {len(decoded)} lines for {len(want)} lines of ids")
        return
    bad = [i for i in range(len(want)) if decoded[i] != want[i]]
    for i in bad[:MAX_DIFFS_SHOWN]:
        fail(f"{name}: decode of line {i} ids {expected[i][:20]}\n  sentencepiece {want[i]!r:.200}"
             f"\n  slim          {decoded[i]!r:.200}")
    if len(bad) > MAX_DIFFS_SHOWN:
        fail(f"{name}: ... {len(bad)} of {len(want)} decodes differ in all")
    print(f"{name}: {len(lines)} lines, {tokens} tokens: {len(diffs)} encode and {len(bad)} "
          f"decode mismatches")


def main():
    start = time.time()
    train_text = "\n".join(sentence for text in read_addresses(1790, 1900)
                           for sentence in split_sentences(text))
    eval_lines = [sentence for text in read_addresses(1901, 2100)
                  for sentence in split_sentences(text)]
    eval_lines = eval_lines[::4]  # every 4th sentence keeps the run short
    lines = eval_lines + TRICKY + TRICKY_BYTES
    with tempfile.TemporaryDirectory() as tmp:
        corpus = os.path.join(tmp, "corpus.txt")
        with open(corpus, "w", encoding="utf-8") as f:
            f.write(train_text)
        for name, args in MODELS.items():
            model_dir = os.path.join(tmp, name)
            os.makedirs(model_dir)
            spm.SentencePieceTrainer.train(
                input=corpus, model_prefix=os.path.join(model_dir, "tokenizer"),
                input_sentence_size=20000, shuffle_input_sentence=True, seed_sentencepiece_size=200000,
                num_threads=2, minloglevel=2, character_coverage=0.9995, **args)
            check_model(name, model_dir, lines)
    print(f"{time.time() - start:.1f} s")


main()
if failures:
    print(f"{len(failures)} conformance check(s) failed")
    sys.exit(1)
print("sentencepiece conformance: all checks passed")
