"""Runs llama.cpp's own convert_hf_to_gguf.py, for gguf_conformance.py's comparison with Slim.

Usage: llama_cpp_convert.py LLAMA_CPP_DIR FALLBACK_PRE MODEL_DIR OUTFILE OUTTYPE

Needs torch, transformers and numpy (the environment of scripts/setup-python-transformers.sh:
Debian 12's torch 1.13 and transformers 4.51.3); the converter's gguf-py comes from LLAMA_CPP_DIR.
Three adjustments, none of which touches what the converter writes for these models:
- torch-2 dtype names the converter only uses as dictionary keys (float8_*, uint16/32/64) get
  placeholders on torch 1.13;
- without the sentencepiece package, a stand-in raises FileNotFoundError for tokenizer.model,
  which is what the converter expects when a model has none (and these models have none);
- the pre-tokenizer hash lookup (get_vocab_base_pre) falls back to FALLBACK_PRE when the hash is
  not in the converter's table, as for Slim's random byte-level tokenizers ("NONE": no fallback).
"""
import runpy
import sys
import types

llama_cpp, fallback_pre, model_dir, outfile, outtype = sys.argv[1:6]

import torch  # noqa: E402

for name in ("float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz",
             "float8_e8m0fnu", "uint16", "uint32", "uint64"):
    if not hasattr(torch, name):
        setattr(torch, name, torch.uint8 if name.startswith("float8") else torch.int64)

import transformers  # noqa: E402,F401  (before the stand-in below: it probes for sentencepiece)

try:
    import sentencepiece  # noqa: F401
except ImportError:
    stand_in = types.ModuleType("sentencepiece")

    class SentencePieceProcessor:
        def LoadFromFile(self, path):
            raise FileNotFoundError(path)

    stand_in.SentencePieceProcessor = SentencePieceProcessor
    sys.modules["sentencepiece"] = stand_in

sys.path.insert(0, llama_cpp + "/gguf-py")
sys.path.insert(0, llama_cpp)
import conversion.base as base  # noqa: E402

original = base.TextModel.get_vocab_base_pre


def get_vocab_base_pre(self, tokenizer):
    try:
        return original(self, tokenizer)
    except NotImplementedError:
        if fallback_pre == "NONE":
            raise
        return fallback_pre


base.TextModel.get_vocab_base_pre = get_vocab_base_pre
sys.argv = [llama_cpp + "/convert_hf_to_gguf.py", model_dir, "--outfile", outfile,
            "--outtype", outtype]
runpy.run_path(sys.argv[0], run_name="__main__")
