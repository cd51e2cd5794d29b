"""Cross-checks the tokenizers `slim convert --format hf --vocab_only` rebuilds from GGUF
vocabularies against the reference packages that read them: Hugging Face `tokenizers` for
tokenizer.json (byte-level BPE) and `sentencepiece` for tokenizer.model.

Inputs: llama.cpp's vocab-only files
models/ggml-vocab-{qwen2,llama-bpe,gpt-2,starcoder,refact,llama-spm}.gguf (real tokenizer
metadata, no weights) and their test vectors .gguf.inp / .gguf.out, which llama.cpp made
with the original Hugging Face tokenizer of each model (add_special_tokens=False). Checked:
1. the rebuilt tokenizer, loaded by the reference package, gives the golden ids of every input;
2. decoding those ids gives back what the original tokenizer.json decodes them to (Qwen3's and
   Llama 3's tokenizer.json from the assets, for qwen2 and llama-bpe) or, for SentencePiece, the
   input text;
3. special tokens: BOS is added exactly where tokenizer_config.json says add_bos_token.

Usage: gguf_tokenizer_conformance.py SLIM_EXECUTABLE
Assets: $SLIM_ASSETS_DIR (default ${SLIM_CACHE:-~/.cache/slim}/assets), from scripts/fetch-assets.sh.
Exit status 77 (CTest's skip code) when the reference packages or the assets are missing.
"""
import json
import os

from conformance_support import assets_dir
import subprocess
import sys
import tempfile

try:
    import sentencepiece as spm
    import tokenizers
except ImportError as error:  # pragma: no cover
    print(f"SKIP: reference package missing ({error}); run scripts/setup-python.sh")
    sys.exit(77)

SLIM = sys.argv[1]
ASSETS = assets_dir()
MODELS = os.path.join(ASSETS, "llama.cpp", "models")
# vocab name -> original tokenizer.json (for decoding), or None
VOCABS = {
    "qwen2": os.path.join(ASSETS, "tokenizer-qwen3", "package", "models", "tokenizer.json"),
    "llama-bpe": os.path.join(ASSETS, "tokenizer-llama3", "package", "models", "tokenizer.json"),
    "gpt-2": None,
    "starcoder": None,  # the pre-tokenizer of SmolLM / SmolLM2 (tokenizer.ggml.pre "smollm") too
    "refact": None,
    "llama-spm": None,
}
for name in VOCABS:
    if not os.path.exists(os.path.join(MODELS, f"ggml-vocab-{name}.gguf.out")):
        print(f"SKIP: assets missing ({MODELS}); run scripts/fetch-assets.sh")
        sys.exit(77)

failures = []


def read_cases(name):
    """llama.cpp's tests/test-tokenizer-0 format: inputs separated by the marker line; one line of
    space-separated ids per input."""
    base = os.path.join(MODELS, f"ggml-vocab-{name}.gguf")
    with open(base + ".inp", encoding="utf-8", newline="") as f:
        inputs = f.read().split("\n__ggml_vocab_test__\n")
    if inputs and inputs[-1] == "":
        inputs.pop()
    with open(base + ".out", encoding="utf-8") as f:
        lines = f.read().split("\n")
    return [(text, [int(i) for i in lines[n].split()]) for n, text in enumerate(inputs)]


def check(name, workdir):
    save = os.path.join(workdir, name)
    result = subprocess.run([SLIM, "convert", "--model_path",
                             os.path.join(MODELS, f"ggml-vocab-{name}.gguf"), "--format", "hf",
                             "--save_path", save, "--vocab_only"], capture_output=True, text=True)
    if result.returncode != 0:
        failures.append(f"{name}: slim convert exit {result.returncode}: {result.stderr}")
        return 0
    with open(os.path.join(save, "tokenizer_config.json"), encoding="utf-8") as f:
        config = json.load(f)
    cases = read_cases(name)
    if os.path.exists(os.path.join(save, "tokenizer.model")):
        sp = spm.SentencePieceProcessor(model_file=os.path.join(save, "tokenizer.model"))
        encode = lambda text: sp.encode(text)  # noqa: E731
        decode = lambda ids: sp.decode(ids)  # noqa: E731
        encode_special = lambda text: ([sp.bos_id()] if config["add_bos_token"] else []) + sp.encode(text)  # noqa: E731
        original_decode = None
        bos = sp.bos_id()
    else:
        tok = tokenizers.Tokenizer.from_file(os.path.join(save, "tokenizer.json"))
        encode = lambda text: tok.encode(text, add_special_tokens=False).ids  # noqa: E731
        decode = lambda ids: tok.decode(ids, skip_special_tokens=False)  # noqa: E731
        encode_special = lambda text: tok.encode(text, add_special_tokens=True).ids  # noqa: E731
        original = VOCABS[name]
        original_decode = None
        if original:
            reference = tokenizers.Tokenizer.from_file(original)
            original_decode = lambda ids: reference.decode(ids, skip_special_tokens=False)  # noqa: E731
        bos = tok.token_to_id(config["bos_token"]) if config.get("bos_token") else None
    bad = 0
    for n, (text, ids) in enumerate(cases):
        got = encode(text)
        if got != ids:
            bad += 1
            failures.append(f"{name} input {n} {text[:40]!r}: ids {got[:12]} expected {ids[:12]}")
            continue
        text_back = decode(ids)
        want_back = original_decode(ids) if original_decode else (text if os.path.exists(
            os.path.join(save, "tokenizer.model")) else None)
        if want_back is not None and text_back != want_back:
            failures.append(f"{name} input {n}: decodes to {text_back[:40]!r}, expected {want_back[:40]!r}")
        with_special = encode_special(text)
        want_special = ([bos] if config["add_bos_token"] else []) + ids
        if with_special != want_special:
            failures.append(f"{name} input {n}: with special tokens {with_special[:8]}, expected "
                            f"{want_special[:8]} (add_bos_token {config['add_bos_token']})")
    return len(cases) - bad


def main():
    total = 0
    with tempfile.TemporaryDirectory(prefix="slim-gguf-tokenizer-") as workdir:
        for name in VOCABS:
            total += check(name, workdir)
    if failures:
        for failure in failures[:40]:
            print("FAIL:", failure)
        print(f"{len(failures)} failures")
        sys.exit(1)
    print(f"OK: {total} inputs of {len(VOCABS)} GGUF vocabularies give llama.cpp's golden ids "
          "with the reference tokenizers")


if __name__ == "__main__":
    main()
