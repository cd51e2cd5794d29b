"""Cross-checks Slim's tokenizer.json tokenizers against Hugging Face's `tokenizers` package.

For each real tokenizer.json from the assets (Qwen3, Llama 3: byte-level BPE; Mistral 7B:
SentencePiece-style BPE with byte fallback):

1. Lines: ~3 MB of State of the Union sentences plus a set of tricky one-line inputs (llama.cpp's
   tokenizer test inputs, numbers, whitespace runs, scripts, emoji), encoded one per line with
   `slim tokenize --file F --lines --ids --no_special_tokens`, must equal
   `Tokenizer.encode_batch(lines, add_special_tokens=False)`. Empty lines are left out of the
   input file (Slim and the reference then see the same lines).
2. Documents: whole addresses (as stored, and one re-joined with newlines and blank lines)
   encoded with `--file F --ids --no_special_tokens` equal `Tokenizer.encode(text)`.
3. Mistral round trip: Slim decodes the reference's ids of each line back to the line (or, where
   `tokenizers` itself does not round-trip it, to what `tokenizers` decodes), when `slim tokenize`
   has `--decode` (reading lines of ids from --file with --lines, printing one text per line);
   otherwise skipped.

Usage: tokenizer_conformance.py SLIM_EXECUTABLE
Assets: $SLIM_ASSETS_DIR (default ${SLIM_CACHE:-~/.cache/slim}/assets), from scripts/fetch-assets.sh.
SLIM_TOKENIZER_CONFORMANCE_BYTES changes the amount of line text (default 3000000).
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
    from tokenizers import Tokenizer
except ImportError as error:  # pragma: no cover
    print(f"SKIP: reference package missing ({error}); run scripts/setup-python.sh")
    sys.exit(77)

SLIM = sys.argv[1]
ASSETS = assets_dir()
LINE_BYTES = int(os.environ.get("SLIM_TOKENIZER_CONFORMANCE_BYTES", "3000000"))

TOKENIZERS = [
    ("qwen3", os.path.join(ASSETS, "tokenizer-qwen3", "package", "models")),
    ("llama3", os.path.join(ASSETS, "tokenizer-llama3", "package", "models")),
    ("mistral", os.path.join(ASSETS, "tokenizer-mistral", "package", "models")),
]
SOTU = os.path.join(ASSETS, "sotu", "package", "data")
LLAMA_INPUTS = os.path.join(ASSETS, "llama.cpp", "models", "ggml-vocab-qwen2.gguf.inp")

missing = [p for p in [*(os.path.join(d, "tokenizer.json") for _, d in TOKENIZERS), SOTU,
                       LLAMA_INPUTS] if not os.path.exists(p)]
if missing:
    print(f"SKIP: assets missing ({missing[0]}); run scripts/fetch-assets.sh")
    sys.exit(77)

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
    return result.stdout.decode("utf-8")


def parse_id_lines(stdout):
    lines = stdout.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [[int(word) for word in line.split()] for line in lines]


def short(text, limit=160):
    return repr(text if len(text) <= limit else text[:limit] + "...")


def describe_diff(reference, label, text, expected, actual):
    """The first differing position, with the reference's token strings around it."""
    first = next((i for i, (a, b) in enumerate(zip(expected, actual)) if a != b),
                 min(len(expected), len(actual)))
    lo, hi = max(0, first - 3), first + 5
    show = lambda ids: " ".join(f"{i}:{reference.id_to_token(i)!r}" for i in ids[lo:hi])
    return (f"{label}: {short(text)}\n"
            f"    {len(expected)} ids expected, {len(actual)} from slim; first difference at {first}\n"
            f"    expected[{lo}:{hi}] {show(expected)}\n"
            f"    slim    [{lo}:{hi}] {show(actual)}")


# ------------------------------------------------------------------ inputs

def sotu_files():
    return sorted(glob.glob(os.path.join(SOTU, "*.txt")))


def read_text(path):
    with open(path, encoding="utf-8", newline="") as f:
        return f.read()


def corpus_lines():
    """Sentences of every third address (a spread over 230 years) up to LINE_BYTES, then tricky
    one-liners. No empty lines, no line breaks other than the separating '\\n'."""
    lines, size = [], 0
    files = sotu_files()
    for path in files[::3] + files[1::3]:
        for line in read_text(path).split("\n"):
            for sentence in re.split(r"(?<=[.!?])\s+", line):
                if sentence and size < LINE_BYTES:
                    lines.append(sentence)
                    size += len(sentence.encode("utf-8")) + 1
        if size >= LINE_BYTES:
            break
    raw = read_text(LLAMA_INPUTS)
    llama_inputs = raw.split("\n__ggml_vocab_test__\n")
    lines += [s for s in llama_inputs if s and "\n" not in s and "\r" not in s]
    lines += [
        "Hello world", " Hello world", "Hello  world", "   leading", "trailing   ", "\ttab\tbetween",
        "1234567890 12.5% $1,000,000.00 3.14159 2024-01-31 10:30", "x = y**2 + f(a[i]) // 7;",
        "I'm, you're, he's, we'll, they'd, it's, I'VE, DON'T", "e-mail: someone@example.com!",
        "日本語のテキストと中文文本，还有한국어 텍스트。", "Ελληνικά, русский, עברית, العربية, हिन्दी",
        "emoji 🦙🚀😶‍🌫️ 👩🏽‍💻 ✅ flags 🇺🇸🇫🇷", "café naïve résumé Ångström ﬁ ½ ² Ⅻ",
        "zero\u200bwidth\u200djoiner and nbsp\u00a0here", "combining e\u0301 vs \u00e9",
        "tabs\t\t\tand    spaces  \t mixed", "CamelCaseIdentifier snake_case_id kebab-case-id",
        "<s> </s> <unk> <|endoftext|> <|im_start|> literal special-token text",
        "a" * 300, "ab" * 200 + " " + "9" * 101, "....!!!???,,,;;;:::---___",
    ]
    return lines


# ------------------------------------------------------------------ checks

def check_lines(name, directory, reference, lines, tmp):
    path = os.path.join(tmp, f"{name}-lines.txt")
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write("\n".join(lines) + "\n")
    start = time.time()
    actual = parse_id_lines(slim("tokenize", "--model_path", directory, "--file", path, "--lines",
                                 "--ids", "--no_special_tokens"))
    slim_seconds = time.time() - start
    start = time.time()
    expected = [e.ids for e in reference.encode_batch(lines, add_special_tokens=False)]
    reference_seconds = time.time() - start
    size = os.path.getsize(path)
    print(f"{name}: {len(lines)} lines, {size / 1e6:.2f} MB: slim {slim_seconds:.2f} s, "
          f"tokenizers {reference_seconds:.2f} s")
    if len(actual) != len(expected):
        fail(f"{name}: slim printed {len(actual)} lines of ids for {len(expected)} input lines")
    bad = [i for i, (e, a) in enumerate(zip(expected, actual)) if e != a]
    if bad:
        fail(f"{name}: {len(bad)} of {len(expected)} lines differ")
        for i in bad[:MAX_DIFFS_SHOWN]:
            print("  " + describe_diff(reference, f"line {i + 1}", lines[i], expected[i], actual[i]))


def check_documents(name, directory, reference, tmp):
    files = sotu_files()
    documents = {}
    for path in (files[0], files[len(files) // 2], files[-1]):
        documents[os.path.basename(path)] = read_text(path)
    # Sentences re-joined with assorted line breaks: newline handling inside one text.
    sentences = re.split(r"(?<=[.!?])\s+", read_text(files[-2]))
    breaks = ["\n", "\n\n", " \n", "\n  ", " ", "\n\n\n", "\t\n"]
    documents["rejoined"] = "".join(s + breaks[i % len(breaks)] for i, s in enumerate(sentences))
    for label, text in documents.items():
        path = os.path.join(tmp, f"{name}-doc.txt")
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        ids = parse_id_lines(slim("tokenize", "--model_path", directory, "--file", path, "--ids",
                                  "--no_special_tokens"))
        actual = [i for line in ids for i in line]
        expected = reference.encode(text, add_special_tokens=False).ids
        if actual != expected:
            fail(f"{name}: document {label} ({len(text)} characters) differs")
            print("  " + describe_diff(reference, label, text, expected, actual))


def check_round_trip(name, directory, reference, lines, tmp):
    """Slim decodes the reference's ids of each line back to the line; where the reference's own
    decode does not give the line back, Slim must give what the reference gives."""
    help_text = subprocess.run([SLIM, "tokenize", "--help"], capture_output=True,
                               text=True).stdout
    expected_ids = [e.ids for e in reference.encode_batch(lines, add_special_tokens=False)]
    wanted = []
    for line, ids in zip(lines, expected_ids):
        decoded = reference.decode(ids, skip_special_tokens=False)  # as slim without the flag
        wanted.append(line if decoded == line else decoded)
    exact = sum(1 for x, w in zip(lines, wanted) if x == w)
    print(f"{name}: tokenizers round-trips {exact} of {len(lines)} lines exactly")
    if "--decode" not in help_text:
        print(f"{name}: round trip through slim skipped (slim tokenize has no --decode)")
        return
    path = os.path.join(tmp, f"{name}-ids.txt")
    with open(path, "w") as f:
        f.write("".join(" ".join(map(str, ids)) + "\n" for ids in expected_ids))
    decoded = slim("tokenize", "--model_path", directory, "--file", path, "--lines", "--decode")
    decoded = decoded.split("\n")
    if decoded and decoded[-1] == "":
        decoded.pop()
    if len(decoded) != len(lines):
        fail(f"{name}: --decode printed {len(decoded)} lines for {len(lines)} lines of ids")
    bad = [i for i, (w, d) in enumerate(zip(wanted, decoded)) if w != d]
    if bad:
        fail(f"{name}: decode(encode(x)) differs for {len(bad)} of {len(lines)} lines")
        for i in bad[:MAX_DIFFS_SHOWN]:
            print(f"  line {i + 1}: {short(lines[i])}\n    slim decoded {short(decoded[i])}\n"
                  f"    tokenizers   {short(wanted[i])}")


start = time.time()
lines = corpus_lines()
with tempfile.TemporaryDirectory() as tmp:
    for name, directory in TOKENIZERS:
        reference = Tokenizer.from_file(os.path.join(directory, "tokenizer.json"))
        check_lines(name, directory, reference, lines, tmp)
        check_documents(name, directory, reference, tmp)
        if name == "mistral":
            check_round_trip(name, directory, reference, lines, tmp)

print(f"({time.time() - start:.1f} s)")
if failures:
    print(f"{len(failures)} conformance check(s) failed")
    sys.exit(1)
print("tokenizer conformance: all checks passed")
