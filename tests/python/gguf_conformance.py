"""Checks `slim convert --format gguf` against independent GGUF references.

1. Reader: random models of every family and variant (GQA/MHA, tied embeddings, explicit
   head_dim, attention biases, Qwen3 q/k norms, llama3 / linear / yarn rope scaling; f32, f16, bf16
   and auto outtypes) are exported with Slim and read with the `gguf` package (llama.cpp's gguf-py
   from PyPI, pinned in requirements.txt): version, alignment of the data section and of every
   tensor, llama.cpp tensor names, ggml shapes, tensor types, and every tensor's bytes against the
   safetensors source converted here with numpy (the llama Q/K permutation computed the way the
   converter writes it), plus the hyper-parameter and tokenizer keys.
2. SentencePiece: a tokenizer.model trained here with the `sentencepiece` package (BPE, byte
   fallback, a user-defined and a control symbol) is exported from a model directory whose
   vocab_size exceeds it, with an extra special token in tokenizer_config.json: tokens, scores and
   token types must be what the converter's _create_vocab_sentencepiece derives from the same
   SentencePieceProcessor calls, with its [PADn] filling and overrides.
3. Pre-tokenizer: for the real tokenizers of the assets (Qwen3, Llama 3 as shipped and with the
   BOS template of Meta's current file), the name llama.cpp's convert_hf_to_gguf.py would write is
   computed as the converter does (sha256 of the token ids of its check text, looked up in its
   get_vocab_base_pre table, both read from the llama.cpp source in the assets, encoded with the
   `tokenizers` package) and compared with the tokenizer.ggml.pre Slim wrote.
4. Converter: when the transformers environment (scripts/setup-python-transformers.sh) and the
   llama.cpp source are there, llama.cpp's convert_hf_to_gguf.py itself converts the same models
   (tests/python/llama_cpp_convert.py) and both files are compared key by key and tensor by tensor,
   allowing only the documented differences (DIFFERENCES below).

Usage: gguf_conformance.py SLIM_EXECUTABLE [-v]
Exit status 77 (CTest's skip code) when the reference packages are missing.
"""
import ast
import hashlib
import importlib.metadata
import json
import os

from conformance_support import assets_dir
import shutil
import struct
import subprocess
import sys
import tempfile

try:
    import gguf
    import ml_dtypes
    import numpy as np
    import sentencepiece as spm
    from safetensors.numpy import save_file
    from tokenizers import Tokenizer
except ImportError as error:  # pragma: no cover
    print(f"SKIP: reference packages missing ({error}); run scripts/setup-python.sh")
    sys.exit(77)

SLIM = sys.argv[1]
VERBOSE = "-v" in sys.argv[2:]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ASSETS = assets_dir()
LLAMA_CPP = os.path.join(ASSETS, "llama.cpp")
VOCAB = 300
failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
        print("FAIL:", message)


def slim(*args):
    result = subprocess.run([SLIM, *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"slim {' '.join(args)} failed:\n{result.stderr}")
    return result.stdout


# --------------------------------------------------------------------------------- models

ROPE_LLAMA3 = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
               "high_freq_factor": 4.0, "original_max_position_embeddings": 64}
# name, architecture, random-model flags, config.json edits, outtype
CASES = [
    ("llama-gqa", "LlamaForCausalLM", [], {}, "f16"),
    ("llama-mha-tied-fp32", "LlamaForCausalLM",
     ["--num_key_value_heads", "4", "--tie_word_embeddings", "--dtype", "fp32"], {}, "auto"),
    ("llama-head_dim32", "LlamaForCausalLM",
     ["--num_attention_heads", "8", "--num_key_value_heads", "2", "--head_dim", "32"], {}, "bf16"),
    ("llama-llama3-rope", "LlamaForCausalLM", [], {"rope_scaling": ROPE_LLAMA3}, "bf16"),
    ("llama-linear-rope", "LlamaForCausalLM", [],
     {"rope_scaling": {"rope_type": "linear", "factor": 4.0}}, "f32"),
    ("llama-attention-bias", "LlamaForCausalLM", ["--dtype", "fp32"],
     {"attention_bias": True}, "f16"),
    ("mistral-sliding-window", "MistralForCausalLM", [], {"sliding_window": 8}, "auto"),
    ("qwen2", "Qwen2ForCausalLM", [], {}, "auto"),
    ("qwen2-yarn", "Qwen2ForCausalLM", ["--dtype", "fp16"],
     {"rope_scaling": {"rope_type": "yarn", "factor": 4.0,
                       "original_max_position_embeddings": 64}}, "f16"),
    ("qwen3-tied-head_dim32", "Qwen3ForCausalLM", ["--head_dim", "32", "--tie_word_embeddings"],
     {}, "bf16"),
    ("qwen3-fp32", "Qwen3ForCausalLM", ["--dtype", "fp32"], {}, "auto"),
]

GGUF_ARCH = {"LlamaForCausalLM": "llama", "MistralForCausalLM": "llama",
             "Qwen2ForCausalLM": "qwen2", "Qwen3ForCausalLM": "qwen3"}
LAYER_PARTS = {"input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm",
               "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
               "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output",
               "self_attn.q_norm": "attn_q_norm", "self_attn.k_norm": "attn_k_norm",
               "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down"}
NP_TYPES = {"F32": np.float32, "F16": np.float16, "BF16": ml_dtypes.bfloat16}
GGML_NP = {gguf.GGMLQuantizationType.F32: np.float32, gguf.GGMLQuantizationType.F16: np.float16,
           gguf.GGMLQuantizationType.BF16: ml_dtypes.bfloat16}


def read_safetensors(path):
    """safetensors' numpy loader has no bfloat16: read the (single-file) checkpoint directly."""
    with open(path, "rb") as f:
        size = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(size))
        data = f.read()
    return {name: np.frombuffer(data[info["data_offsets"][0]:info["data_offsets"][1]],
                                dtype=NP_TYPES[info["dtype"]]).reshape(info["shape"])
            for name, info in header.items() if name != "__metadata__"}


def write_model(directory, arch, flags, edits, seed):
    slim("random-model", "--arch", arch, "--vocab_size", str(VOCAB), "--seed", str(seed),
         "--save_path", directory, *flags)
    path = os.path.join(directory, "config.json")
    with open(path) as f:
        config = json.load(f)
    config.update(edits)
    with open(path, "w") as f:
        json.dump(config, f, indent=2)
    if edits.get("attention_bias"):  # add the q/k/v/o biases the edited config calls for
        weights_path = os.path.join(directory, "model.safetensors")
        weights = dict(read_safetensors(weights_path))
        rng = np.random.default_rng(seed)
        for layer in range(config["num_hidden_layers"]):
            for proj in ("q_proj", "k_proj", "v_proj", "o_proj"):
                rows = weights[f"model.layers.{layer}.self_attn.{proj}.weight"].shape[0]
                weights[f"model.layers.{layer}.self_attn.{proj}.bias"] = \
                    rng.standard_normal(rows).astype(np.float32)
        save_file(weights, weights_path, metadata={"format": "pt"})
    return config


def gguf_name(hf_name):
    globals_ = {"model.embed_tokens.weight": "token_embd.weight",
                "model.norm.weight": "output_norm.weight", "lm_head.weight": "output.weight"}
    if hf_name in globals_:
        return globals_[hf_name]
    parts = hf_name.split(".")
    layer, suffix = parts[2], parts[-1]
    return f"blk.{layer}.{LAYER_PARTS['.'.join(parts[3:-1])]}.{suffix}"


def permute(weights, heads):
    """convert_hf_to_gguf.py's LlamaModel.permute."""
    return (weights.reshape(heads, 2, weights.shape[0] // heads // 2, *weights.shape[1:])
            .swapaxes(1, 2).reshape(weights.shape))


def read_gguf(path):
    reader = gguf.GGUFReader(path)
    fields = {}
    for field in reader.fields.values():
        if field.name.startswith("GGUF."):
            continue
        if field.types[0] == gguf.GGUFValueType.ARRAY:
            value = [field.contents(i) for i in range(len(field.data))]
        else:
            value = field.contents()
        fields[field.name] = (tuple(int(t) for t in field.types), value)
    return reader, fields


def check_export(name, model_dir, config, outtype, gguf_path):
    reader, fields = read_gguf(gguf_path)
    arch = GGUF_ARCH[config["architectures"][0]]
    value = lambda key: fields[key][1] if key in fields else None  # noqa: E731
    check(value("general.architecture") == arch, f"{name}: general.architecture")
    check(value("general.alignment") == 32 and reader.alignment == 32, f"{name}: alignment")
    check(reader.data_offset % 32 == 0, f"{name}: data section at {reader.data_offset}")
    for key, expected in [(f"{arch}.block_count", config["num_hidden_layers"]),
                          (f"{arch}.embedding_length", config["hidden_size"]),
                          (f"{arch}.feed_forward_length", config["intermediate_size"]),
                          (f"{arch}.context_length", config["max_position_embeddings"]),
                          (f"{arch}.attention.head_count", config["num_attention_heads"]),
                          (f"{arch}.attention.head_count_kv", config["num_key_value_heads"]),
                          (f"{arch}.attention.key_length", config["head_dim"])]:
        check(value(key) == expected, f"{name}: {key} = {value(key)}, expected {expected}")
    check(value(f"{arch}.rope.freq_base") == config["rope_theta"], f"{name}: rope.freq_base")
    check(abs(value(f"{arch}.attention.layer_norm_rms_epsilon") - 1e-6) < 1e-12,
          f"{name}: layer_norm_rms_epsilon")
    check(value("tokenizer.ggml.model") == "gpt2" and value("tokenizer.ggml.pre") == "gpt-2",
          f"{name}: tokenizer model/pre")
    check(len(value("tokenizer.ggml.tokens")) == VOCAB, f"{name}: token count")
    check(fields["tokenizer.ggml.token_type"][0] == (9, 5), f"{name}: token_type is int32[]")
    check(value("tokenizer.ggml.bos_token_id") == 256, f"{name}: bos id")
    rope = config.get("rope_scaling") or {}
    if rope.get("rope_type") in ("linear", "yarn"):
        check(value(f"{arch}.rope.scaling.type") == rope["rope_type"], f"{name}: scaling type")
        check(value(f"{arch}.rope.scaling.factor") == rope["factor"], f"{name}: scaling factor")

    source = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    if outtype == "auto":
        first = next(t for n, t in source.items() if t.ndim == 2)
        outtype = "bf16" if first.dtype == ml_dtypes.bfloat16 else "f16"
    file_type = {"f32": 0, "f16": 1, "bf16": 32}[outtype]
    check(value("general.file_type") == file_type, f"{name}: general.file_type")
    target = {"f32": np.float32, "f16": np.float16, "bf16": ml_dtypes.bfloat16}[outtype]
    tensors = {t.name: t for t in reader.tensors}
    expected_names = {gguf_name(n) for n in source}
    if rope.get("rope_type") == "llama3":
        expected_names.add("rope_freqs.weight")
    check(set(tensors) == expected_names,
          f"{name}: tensors {sorted(set(tensors) ^ expected_names)} differ")
    heads, kv_heads = config["num_attention_heads"], config["num_key_value_heads"]
    for hf_name, data in source.items():
        tensor = tensors.get(gguf_name(hf_name))
        if tensor is None:
            continue
        if arch == "llama" and ".q_proj." in hf_name:
            data = permute(data, heads)
        if arch == "llama" and ".k_proj." in hf_name:
            data = permute(data, kv_heads)
        f32 = data.ndim == 1 or tensor.name.endswith("_norm.weight") or \
            not tensor.name.endswith(".weight")
        data = data.astype(np.float32).astype(np.float32 if f32 else target)
        check(tensor.data_offset % 32 == 0, f"{name}: {tensor.name} at {tensor.data_offset}")
        check(list(tensor.shape) == list(reversed(data.shape)),
              f"{name}: {tensor.name} shape {list(tensor.shape)} vs {data.shape}")
        check(GGML_NP[tensor.tensor_type] == data.dtype,
              f"{name}: {tensor.name} type {tensor.tensor_type.name}")
        check(np.asarray(tensor.data).tobytes() == data.tobytes(), f"{name}: {tensor.name} bytes")


# ------------------------------------------------------------------------- SentencePiece

def check_sentencepiece(tmp):
    """tokenizer.model: the converter's _create_vocab_sentencepiece, computed from sentencepiece."""
    sotu = os.path.join(ASSETS, "sotu", "package", "data")
    if os.path.isdir(sotu):
        names = sorted(n for n in os.listdir(sotu) if n.endswith(".txt"))[:40]
        text = ""
        for name in names:
            with open(os.path.join(sotu, name), encoding="utf-8") as f:
                text += f.read().replace(". ", ".\n") + "\n"  # a sentence per line
    else:
        rng = np.random.default_rng(0)
        words = ["the", "of", "and", "to", "in", "a", "is", "that", "for", "it", "as", "was"]
        text = "\n".join(" ".join(rng.choice(words, 12)) for _ in range(3000))
    corpus = os.path.join(tmp, "sp-corpus.txt")
    with open(corpus, "w", encoding="utf-8") as f:
        f.write(text)
    model_dir = os.path.join(tmp, "sentencepiece")
    sp_vocab, vocab = 600, 610
    slim("random-model", "--arch", "LlamaForCausalLM", "--vocab_size", str(vocab),
         "--save_path", model_dir)
    path = os.path.join(model_dir, "config.json")
    with open(path) as f:
        config = json.load(f)
    config.update({"bos_token_id": 1, "eos_token_id": 2})  # SentencePiece's <s>, </s>
    with open(path, "w") as f:
        json.dump(config, f, indent=2)
    os.remove(os.path.join(model_dir, "tokenizer.json"))
    spm.SentencePieceTrainer.train(
        input=corpus, model_prefix=os.path.join(model_dir, "tokenizer"), vocab_size=sp_vocab,
        model_type="bpe", byte_fallback=True, user_defined_symbols=["<tool>"],
        control_symbols=["<ctl>"], num_threads=2, minloglevel=2, input_sentence_size=20000,
        shuffle_input_sentence=True)
    extra = sp_vocab + 3
    with open(os.path.join(model_dir, "tokenizer_config.json"), "w") as f:
        json.dump({"add_bos_token": True, "add_eos_token": False,
                   "added_tokens_decoder": {str(extra): {"content": "<extra>", "special": True}}},
                  f)
    out = os.path.join(tmp, "sentencepiece.gguf")
    slim("convert", "--model_path", model_dir, "--format", "gguf", "--save_path", out)

    sp = spm.SentencePieceProcessor(model_file=os.path.join(model_dir, "tokenizer.model"))
    tokens = [f"[PAD{i}]" for i in range(vocab)]
    scores = [-10000.0] * vocab
    types = [5] * vocab
    for i in range(sp.vocab_size()):
        tokens[i], scores[i] = sp.IdToPiece(i), sp.GetScore(i)
        types[i] = (2 if sp.IsUnknown(i) else 3 if sp.IsControl(i) else 5 if sp.IsUnused(i)
                    else 6 if sp.IsByte(i) else 1)
    tokens[extra], scores[extra], types[extra] = "<extra>", -1000.0, 3
    _, fields = read_gguf(out)
    value = lambda key: fields[key][1] if key in fields else None  # noqa: E731
    check(value("tokenizer.ggml.model") == "llama", "sentencepiece: tokenizer model")
    check(value("tokenizer.ggml.pre") == "default", "sentencepiece: pre")
    check(value("tokenizer.ggml.tokens") == tokens, "sentencepiece: tokens")
    check(np.array_equal(np.float32(value("tokenizer.ggml.scores")), np.float32(scores)),
          "sentencepiece: scores")
    check(value("tokenizer.ggml.token_type") == types, "sentencepiece: token types")
    check(fields["tokenizer.ggml.scores"][0] == (9, 6), "sentencepiece: scores are float32[]")
    check(types.count(4) == 0 and tokens.index("<tool>") > 0,
          "sentencepiece: user-defined pieces stay NORMAL, as in the converter")
    check(value("tokenizer.ggml.bos_token_id") == 1 and value("tokenizer.ggml.eos_token_id") == 2,
          "sentencepiece: bos/eos ids from config.json")
    check(value("tokenizer.ggml.add_bos_token") is True
          and value("tokenizer.ggml.add_eos_token") is False, "sentencepiece: add_bos/add_eos")
    check("tokenizer.ggml.merges" not in fields, "sentencepiece: no merges")
    print(f"{'sentencepiece':28s} {sp.vocab_size()} pieces + padding to {vocab}: OK")


# ---------------------------------------------------------------------- pre-tokenizer hash

def converter_pre_table():
    """chktxt and {hash: name} of convert_hf_to_gguf.py's get_vocab_base_pre."""
    source = os.path.join(LLAMA_CPP, "conversion", "base.py")
    if not os.path.exists(source):
        source = os.path.join(LLAMA_CPP, "convert_hf_to_gguf.py")
    with open(source, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    function = next(node for node in ast.walk(tree)
                    if isinstance(node, ast.FunctionDef) and node.name == "get_vocab_base_pre")
    chktxt, table = None, {}
    for node in ast.walk(function):
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "chktxt":
            chktxt = ast.literal_eval(node.value)
        if (isinstance(node, ast.If) and isinstance(node.test, ast.Compare)
                and getattr(node.test.left, "id", None) == "chkhsh"):
            for statement in node.body:
                if isinstance(statement, ast.Assign) and statement.targets[0].id == "res":
                    table[ast.literal_eval(node.test.comparators[0])] = \
                        ast.literal_eval(statement.value)
    return chktxt, table


LLAMA3_BOS_TEMPLATE = {
    "type": "Sequence",
    "processors": [
        {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
        {"type": "TemplateProcessing",
         "single": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}},
                    {"Sequence": {"id": "A", "type_id": 0}}],
         "pair": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}},
                  {"Sequence": {"id": "A", "type_id": 0}},
                  {"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 1}},
                  {"Sequence": {"id": "B", "type_id": 1}}],
         "special_tokens": {"<|begin_of_text|>": {"id": "<|begin_of_text|>", "ids": [128000],
                                                  "tokens": ["<|begin_of_text|>"]}}}]}

# name, architecture, vocab_size, asset folder, tokenizer.json edit
REAL_TOKENIZERS = [
    ("qwen3-tokenizer", "Qwen3ForCausalLM", 151936, "tokenizer-qwen3", None),
    ("llama3-tokenizer", "LlamaForCausalLM", 128256, "tokenizer-llama3", None),
    ("llama3-tokenizer-bos", "LlamaForCausalLM", 128256, "tokenizer-llama3",
     {"post_processor": LLAMA3_BOS_TEMPLATE}),
    ("mistral-tokenizer", "MistralForCausalLM", 32000, "tokenizer-mistral", None),
]


def write_real_tokenizer_model(directory, arch, vocab, asset, edit):
    slim("random-model", "--arch", arch, "--vocab_size", str(vocab), "--hidden_size", "32",
         "--intermediate_size", "64", "--num_hidden_layers", "1", "--num_attention_heads", "2",
         "--num_key_value_heads", "1", "--save_path", directory)
    models = os.path.join(ASSETS, asset, "package", "models")
    for file in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(models, file), os.path.join(directory, file))
    if edit:
        path = os.path.join(directory, "tokenizer.json")
        with open(path, encoding="utf-8") as f:
            tokenizer = json.load(f)
        tokenizer.update(edit)
        with open(path, "w", encoding="utf-8") as f:
            json.dump(tokenizer, f, ensure_ascii=False)


def check_pre_tokenizer(name, model_dir, gguf_path, chktxt, table):
    tokenizer = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    digest = hashlib.sha256(str(tokenizer.encode(chktxt).ids).encode()).hexdigest()
    converter = table.get(digest)
    _, fields = read_gguf(gguf_path)
    ours = fields["tokenizer.ggml.pre"][1] if "tokenizer.ggml.pre" in fields else None
    add_bos = fields.get("tokenizer.ggml.add_bos_token", (None, None))[1]
    if converter == "smaug-bpe":
        # Llama 3's vocabulary and regex without the BOS template: Slim writes llama-bpe (same
        # regex, and ignore_merges as the tokenizer.json says) with add_bos_token false.
        check(ours == "llama-bpe" and add_bos is False,
              f"{name}: converter smaug-bpe, Slim {ours} add_bos {add_bos}")
    elif converter is None and fields["tokenizer.ggml.model"][1] == "llama":
        check(ours == "default", f"{name}: SentencePiece-style pre {ours}")
    else:
        check(ours == converter, f"{name}: converter's pre {converter}, Slim's {ours}")
    print(f"{name:28s} pre {ours!s:10s} (converter's hash table: {converter})")


# ----------------------------------------------------------------- converter comparison

# Keys allowed to differ from llama.cpp's converter output, and why (docs/formats.md, "GGUF").
DIFFERENCES = {
    "general.alignment": "Slim writes the alignment explicitly (the converter relies on the "
                         "default, also 32)",
    "general.name": "Slim uses the directory name; the converter's model-card heuristics differ",
    "general.size_label": "not written by Slim",
}


def transformers_python():
    python = os.environ.get("SLIM_TRANSFORMERS_PYTHON")
    if not python:
        result = subprocess.run(["bash", os.path.join(ROOT, "scripts",
                                                      "setup-python-transformers.sh"),
                                 "--print-python"], capture_output=True, text=True)
        python = result.stdout.strip() if result.returncode == 0 else ""
    return python if python and os.path.exists(python) else None


def compare_with_converter(python, name, model_dir, outtype, ours_path, fallback_pre):
    reference_path = os.path.join(os.path.dirname(ours_path), name + ".converter.gguf")
    result = subprocess.run(
        [python, os.path.join(ROOT, "tests", "python", "llama_cpp_convert.py"), LLAMA_CPP,
         fallback_pre, model_dir, reference_path, outtype], capture_output=True, text=True)
    if result.returncode != 0:
        check(False, f"{name}: convert_hf_to_gguf.py failed:\n{result.stderr[-2000:]}")
        return
    reference, ref_fields = read_gguf(reference_path)
    ours, our_fields = read_gguf(ours_path)
    allowed = dict(DIFFERENCES)
    if name == "llama3-tokenizer":
        allowed["tokenizer.ggml.pre"] = "smaug-bpe vs llama-bpe (see check_pre_tokenizer)"
        allowed["tokenizer.ggml.add_bos_token"] = "explicit false with llama-bpe"
    if name == "mistral-tokenizer":
        allowed["tokenizer.ggml.scores"] = "Slim writes merge-order scores, the converter -1000"
    if "tokenizer.ggml.merges" in our_fields and our_fields["tokenizer.ggml.merges"][1] == []:
        allowed["tokenizer.ggml.merges"] = "llama.cpp needs the key; the converter writes none"
    differing = []
    for key in sorted(set(ref_fields) | set(our_fields)):
        if ref_fields.get(key) != our_fields.get(key) and key not in allowed:
            differing.append(f"{key}: converter {str(ref_fields.get(key))[:120]}, "
                             f"Slim {str(our_fields.get(key))[:120]}")
    check(not differing, f"{name}: metadata differs from the converter's:\n  "
          + "\n  ".join(differing))
    ref_tensors = {t.name: t for t in reference.tensors}
    our_tensors = {t.name: t for t in ours.tensors}
    check(list(ref_tensors) == list(our_tensors) or set(ref_tensors) == set(our_tensors),
          f"{name}: tensor names differ: {sorted(set(ref_tensors) ^ set(our_tensors))}")
    same = 0
    for tensor_name, ref in ref_tensors.items():
        our = our_tensors.get(tensor_name)
        if our is None:
            continue
        ok = (ref.tensor_type == our.tensor_type and list(ref.shape) == list(our.shape)
              and np.asarray(ref.data).tobytes() == np.asarray(our.data).tobytes())
        check(ok, f"{name}: tensor {tensor_name} differs from the converter's")
        same += ok
    print(f"{name:28s} = convert_hf_to_gguf.py: {len(ref_fields)} keys, {same} tensors"
          + (f" (allowed: {', '.join(k for k in allowed if ref_fields.get(k) != our_fields.get(k))})"
             if VERBOSE else ""))


# ----------------------------------------------------------------------------------- main

def main():
    have_llama_cpp = os.path.exists(os.path.join(LLAMA_CPP, "convert_hf_to_gguf.py"))
    python = transformers_python() if have_llama_cpp else None
    print(f"gguf {importlib.metadata.version('gguf')}; converter comparison: "
          + ("on" if python else "skipped (no llama.cpp asset or transformers environment)"))
    with tempfile.TemporaryDirectory() as tmp:
        for index, (name, arch, flags, edits, outtype) in enumerate(CASES):
            model_dir = os.path.join(tmp, name)
            config = write_model(model_dir, arch, flags, edits, seed=index + 1)
            path = os.path.join(tmp, name + ".gguf")
            slim("convert", "--model_path", model_dir, "--format", "gguf", "--outtype", outtype,
                 "--save_path", path)
            check_export(name, model_dir, config, outtype, path)
            print(f"{name:28s} read back with gguf-py: OK")
            if python:
                compare_with_converter(python, name, model_dir, outtype, path, "gpt-2")

        check_sentencepiece(tmp)

        if not have_llama_cpp:
            print("SKIP: pre-tokenizer checks need the assets (scripts/fetch-assets.sh)")
        else:
            chktxt, table = converter_pre_table()
            for name, arch, vocab, asset, edit in REAL_TOKENIZERS:
                if not os.path.exists(os.path.join(ASSETS, asset)):
                    print(f"SKIP: {name}: asset {asset} missing")
                    continue
                model_dir = os.path.join(tmp, name)
                write_real_tokenizer_model(model_dir, arch, vocab, asset, edit)
                path = os.path.join(tmp, name + ".gguf")
                slim("convert", "--model_path", model_dir, "--format", "gguf", "--save_path",
                     path)
                check_pre_tokenizer(name, model_dir, path, chktxt, table)
                if python:
                    compare_with_converter(python, name, model_dir, "auto", path, "NONE")
                shutil.rmtree(model_dir)

    if failures:
        print(f"{len(failures)} failure(s)")
        sys.exit(1)
    print("OK")


main()
