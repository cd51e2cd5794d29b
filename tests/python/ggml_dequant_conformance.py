"""Cross-checks `slim convert --format hf` (GGUF import) against llama.cpp's own Python package
`gguf` (gguf-py, pinned in requirements.txt): its GGUFWriter writes the input files and the numpy
dequantizers of gguf/quants.py give the expected values.

Three tiny models are written as GGUF files, one per supported architecture (llama, qwen2, qwen3),
each 2-D weight in another ggml type, so that every type appears in several tensor roles: F32,
F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K (gguf-py has no Q8_K
dequantizer; Slim's unit tests cover that type). Block bytes are random, with the fp16 scale
fields replaced by random finite halves of every magnitude (normal, subnormal, zero, both signs):
random scale bits could be NaN or infinity, which would make the comparison meaningless.

Each file is imported with --outtype f32, bf16 and f16. Checked:
1. Every tensor of model.safetensors (or of the shards, with a small --shard_size) equals
   gguf-py's dequantization bit for bit (f32), or that value rounded to nearest even (bf16 via
   ml_dtypes, f16 via numpy). For the llama architecture the q/k rows must come back in Hugging
   Face order: applying convert_hf_to_gguf.py's LlamaModel.permute to Slim's q/k must give the
   GGUF rows.
2. config.json: architecture, geometry, head_dim, eps and theta as written, tie_word_embeddings
   when there is no output tensor, biases, rope scaling (llama3 recovered from the rope_freqs
   tensor that convert_hf_to_gguf.py's formula generates, yarn, linear), bos/eos ids.
3. The byte-level BPE tokenizer.json rebuilt from a tiny vocabulary loads in `tokenizers` and
   applies the merges.
4. Round trip through llama.cpp itself, when the transformers environment
   (scripts/setup-python-transformers.sh) and tests/python/llama_cpp_convert.py are there: random
   Hugging Face models of each family (Slim's random-model; Llama with llama3 rope scaling, Qwen3
   with tied embeddings) are converted by llama.cpp's own convert_hf_to_gguf.py (assets), to f32
   and q8_0, and imported back: f32 tensors must equal the originals bit for bit (the llama q/k
   permutation undone), q8_0 ones must be within half a quantization step, and config.json must
   give back the original geometry and rope scaling. Otherwise this part is reported as skipped.

Usage: ggml_dequant_conformance.py SLIM_EXECUTABLE
Exit status 77 (CTest's skip code) when a reference package is missing.
"""
import json
import math
import os

from conformance_support import assets_dir
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import gguf
    import gguf.quants
    import ml_dtypes
    from safetensors.numpy import load_file
    import tokenizers
except ImportError as error:  # pragma: no cover
    print(f"SKIP: reference package missing ({error}); run scripts/setup-python.sh")
    sys.exit(77)

SLIM = sys.argv[1]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ASSETS = assets_dir()
LLAMA_CPP = os.path.join(ASSETS, "llama.cpp")
Q = gguf.GGMLQuantizationType
failures = []

TYPES = [Q.Q4_0, Q.Q4_1, Q.Q5_0, Q.Q5_1, Q.Q8_0, Q.Q2_K, Q.Q3_K, Q.Q4_K, Q.Q5_K, Q.Q6_K,
         Q.F16, Q.BF16, Q.F32]
# Byte offsets of the fp16 scale fields inside one block (ggml-common.h).
HALF_FIELDS = {
    Q.Q4_0: [0], Q.Q4_1: [0, 2], Q.Q5_0: [0], Q.Q5_1: [0, 2], Q.Q8_0: [0],
    Q.Q2_K: [80, 82], Q.Q3_K: [108], Q.Q4_K: [0, 2], Q.Q5_K: [0, 2], Q.Q6_K: [208],
}

rng = np.random.default_rng(20240531)


def random_halves(n):
    """Finite fp16 values of every kind: normal and subnormal magnitudes, zeros, both signs."""
    magnitude = np.exp2(rng.uniform(-26.0, 8.0, n))
    values = (np.where(rng.random(n) < 0.5, -1.0, 1.0) * magnitude).astype(np.float16)
    values[rng.random(n) < 0.03] = 0.0
    bits = values.view(np.uint16).copy()
    raw = rng.integers(0, 1 << 16, n, dtype=np.uint16)  # some raw patterns, infinities removed
    finite = (raw & 0x7C00) != 0x7C00
    pick = (rng.random(n) < 0.2) & finite
    bits[pick] = raw[pick]
    return bits


def random_tensor_bytes(qtype, shape):
    """Bytes of a ggml tensor of row-major `shape` (rows, cols) or (n,): shape (rows, row_bytes)."""
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    cols = shape[-1]
    rows = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
    assert cols % block == 0, (qtype, shape)
    n_blocks = rows * cols // block
    if qtype == Q.F32:
        values = (rng.standard_normal(n_blocks) * np.exp2(rng.uniform(-30, 30, n_blocks)))
        data = values.astype(np.float32).view(np.uint8)
    elif qtype == Q.F16:
        bits = rng.integers(0, 1 << 16, n_blocks, dtype=np.uint16)
        bits[(bits & 0x7C00) == 0x7C00] &= 0xBFFF  # no infinity / NaN
        data = bits.view(np.uint8)
    elif qtype == Q.BF16:
        bits = rng.integers(0, 1 << 16, n_blocks, dtype=np.uint16)
        bits[(bits & 0x7F80) == 0x7F80] &= 0xBFFF
        data = bits.view(np.uint8)
    else:
        data = rng.integers(0, 256, (n_blocks, size), dtype=np.uint8)
        for offset in HALF_FIELDS[qtype]:
            data[:, offset:offset + 2] = random_halves(n_blocks).view(np.uint8).reshape(n_blocks, 2)
    return np.ascontiguousarray(data).reshape(rows, cols // block * size)


def reference_values(qtype, data, shape):
    """gguf-py's dequantization, float32, in row-major `shape`."""
    return gguf.quants.dequantize(data, qtype).reshape(shape).astype(np.float32, copy=False)


def llama_permute(weights, n_head, n_head_kv):
    """convert_hf_to_gguf.py's LlamaModel.permute (HF rows -> GGUF rows)."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return (weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
            .swapaxes(1, 2).reshape(weights.shape))


def llama3_rope_factors(theta, dim, factor, low, high, old):
    """convert_hf_to_gguf.py's LlamaModel.generate_extra_tensors (float32 as there)."""
    freqs = 1.0 / (theta ** (np.arange(0, dim, 2, dtype=np.float32) / np.float32(dim)))
    low_wavelen, high_wavelen = old / low, old / high
    factors = []
    for freq in freqs.astype(np.float32):
        wavelen = 2 * math.pi / freq
        if wavelen < high_wavelen:
            factors.append(1)
        elif wavelen > low_wavelen:
            factors.append(factor)
        else:
            smooth = (old / wavelen - low) / (high - low)
            factors.append(1 / ((1 - smooth) / factor + smooth))
    return np.array(factors, dtype=np.float32)


def bytes_to_unicode():
    """GPT-2's byte -> printable character map (byte-level BPE vocabularies)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


MODELS = [
    # name, arch, geometry, options
    dict(name="llama", arch="llama", hidden=256, heads=4, kv=2, head_dim=64, ff=512, layers=2,
         vocab=320, tied=False, bias=True, qk_norm=False, rope="llama3", theta=500000.0,
         eps=1e-5, tokenizer=True, shard="100KB", offset=0),
    dict(name="qwen2", arch="qwen2", hidden=256, heads=4, kv=1, head_dim=64, ff=256, layers=2,
         vocab=300, tied=True, bias="qkv", qk_norm=False, rope="yarn", theta=1000000.0,
         eps=1e-6, tokenizer=False, shard=None, offset=5),
    dict(name="qwen3", arch="qwen3", hidden=256, heads=4, kv=2, head_dim=128, ff=512, layers=2,
         vocab=272, tied=False, bias=False, qk_norm=True, rope="linear", theta=1000000.0,
         eps=1e-6, tokenizer=False, shard=None, offset=9),
]
HF_ARCH = {"llama": "LlamaForCausalLM", "qwen2": "Qwen2ForCausalLM", "qwen3": "Qwen3ForCausalLM"}


def model_tensors(m):
    """(gguf name, hf name, row-major shape, is_matrix) in file order."""
    h, d, ff = m["hidden"], m["head_dim"], m["ff"]
    q, kv = m["heads"] * d, m["kv"] * d
    out = [("token_embd.weight", "model.embed_tokens.weight", (m["vocab"], h), True)]
    for layer in range(m["layers"]):
        g, f = f"blk.{layer}.", f"model.layers.{layer}."
        out.append((g + "attn_norm.weight", f + "input_layernorm.weight", (h,), False))
        for gn, hn, rows in (("attn_q", "q_proj", q), ("attn_k", "k_proj", kv), ("attn_v", "v_proj", kv)):
            out.append((g + gn + ".weight", f + "self_attn." + hn + ".weight", (rows, h), True))
            if m["bias"]:
                out.append((g + gn + ".bias", f + "self_attn." + hn + ".bias", (rows,), False))
        out.append((g + "attn_output.weight", f + "self_attn.o_proj.weight", (h, q), True))
        if m["bias"] is True:
            out.append((g + "attn_output.bias", f + "self_attn.o_proj.bias", (h,), False))
        if m["qk_norm"]:
            out.append((g + "attn_q_norm.weight", f + "self_attn.q_norm.weight", (d,), False))
            out.append((g + "attn_k_norm.weight", f + "self_attn.k_norm.weight", (d,), False))
        out.append((g + "ffn_norm.weight", f + "post_attention_layernorm.weight", (h,), False))
        out.append((g + "ffn_gate.weight", f + "mlp.gate_proj.weight", (ff, h), True))
        out.append((g + "ffn_up.weight", f + "mlp.up_proj.weight", (ff, h), True))
        out.append((g + "ffn_down.weight", f + "mlp.down_proj.weight", (h, ff), True))
    out.append(("output_norm.weight", "model.norm.weight", (h,), False))
    if not m["tied"]:
        out.append(("output.weight", "lm_head.weight", (m["vocab"], h), True))
    return out


def write_model(m, path):
    """Writes the GGUF; returns {hf name: (expected values in GGUF row order, gguf name)}."""
    arch = m["arch"]
    writer = gguf.GGUFWriter(path, arch)
    writer.add_name(m["name"])
    writer.add_block_count(m["layers"])
    writer.add_context_length(4096)
    writer.add_embedding_length(m["hidden"])
    writer.add_feed_forward_length(m["ff"])
    writer.add_head_count(m["heads"])
    writer.add_head_count_kv(m["kv"])
    writer.add_key_length(m["head_dim"])
    writer.add_value_length(m["head_dim"])
    writer.add_rope_dimension_count(m["head_dim"])
    writer.add_rope_freq_base(m["theta"])
    writer.add_layer_norm_rms_eps(m["eps"])
    writer.add_vocab_size(m["vocab"])
    if m["rope"] == "yarn":
        writer.add_rope_scaling_type(gguf.RopeScalingType.YARN)
        writer.add_rope_scaling_factor(4.0)
        writer.add_rope_scaling_orig_ctx_len(32768)
        writer.add_rope_scaling_yarn_beta_fast(32.0)
        writer.add_rope_scaling_yarn_beta_slow(1.0)
    elif m["rope"] == "linear":
        writer.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        writer.add_rope_scaling_factor(2.0)
    if m["tokenizer"]:
        byte_map = bytes_to_unicode()
        tokens = [byte_map[b] for b in range(256)]
        merges = ["Ġ t", "h e", "Ġt he", "c a", "ca t"]
        for merge in merges:
            tokens.append(merge.replace(" ", ""))
        types = [gguf.TokenType.NORMAL] * len(tokens)
        tokens += ["<|begin_of_text|>", "<|end_of_text|>"]
        types += [gguf.TokenType.CONTROL] * 2
        while len(tokens) < m["vocab"]:
            tokens.append(f"[PAD{len(tokens)}]")
            types.append(gguf.TokenType.UNUSED)
        writer.add_tokenizer_model("gpt2")
        writer.add_tokenizer_pre("llama-bpe")
        writer.add_token_list(tokens)
        writer.add_token_types(types)
        writer.add_token_merges(merges)
        writer.add_bos_token_id(tokens.index("<|begin_of_text|>"))
        writer.add_eos_token_id(tokens.index("<|end_of_text|>"))

    expected = {}
    matrix_index = 0
    vector_types = [Q.F32, Q.F16, Q.BF16]
    for index, (gname, hname, shape, is_matrix) in enumerate(model_tensors(m)):
        if is_matrix:
            qtype = TYPES[(matrix_index + m["offset"]) % len(TYPES)]
            matrix_index += 1
        else:
            qtype = vector_types[index % len(vector_types)]
        data = random_tensor_bytes(qtype, shape)
        if len(shape) == 1:
            data = data.reshape(-1)  # a 1-D tensor, not a [1, n] matrix
        writer.add_tensor(gname, data, raw_shape=data.shape, raw_dtype=qtype)
        expected[hname] = (reference_values(qtype, data, shape), gname, qtype)
    if m["rope"] == "llama3":
        factors = llama3_rope_factors(m["theta"], m["head_dim"], 8.0, 1.0, 4.0, 8192)
        assert 1.0 < factors.max() and len(set(factors.tolist())) > 3, "no smooth region"
        writer.add_tensor("rope_freqs.weight", factors)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return expected


def slim_import(gguf_path, save_path, outtype, shard):
    command = [SLIM, "convert", "--model_path", gguf_path, "--format", "hf", "--save_path",
               save_path, "--outtype", outtype]
    if shard:
        command += ["--shard_size", shard]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        failures.append(f"{gguf_path} -> {outtype}: exit {result.returncode}: {result.stderr}")
        return None
    tensors = {}
    for name in sorted(os.listdir(save_path)):
        if name.endswith(".safetensors"):
            tensors.update(load_file(os.path.join(save_path, name)))
    return tensors


def to_outtype(values, outtype):
    if outtype == "f32":
        return values
    if outtype == "bf16":
        return values.astype(ml_dtypes.bfloat16)
    with np.errstate(over="ignore"):
        return values.astype(np.float16)


def same_bits(a, b):
    return a.shape == b.shape and a.dtype.itemsize == b.dtype.itemsize and \
        np.array_equal(a.view(f"u{a.dtype.itemsize}"), b.view(f"u{b.dtype.itemsize}"))


def check_model(m, workdir):
    path = os.path.join(workdir, m["name"] + ".gguf")
    expected = write_model(m, path)
    checked_types = set()
    for outtype in ("f32", "bf16", "f16"):
        save = os.path.join(workdir, f"{m['name']}-{outtype}")
        tensors = slim_import(path, save, outtype, m["shard"] if outtype == "bf16" else None)
        if tensors is None:
            continue
        if sorted(tensors) != sorted(expected):
            failures.append(f"{m['name']} {outtype}: tensors {sorted(set(tensors) ^ set(expected))} "
                            "differ from the expected set")
        for hname, (values, gname, qtype) in expected.items():
            if hname not in tensors:
                continue
            got = tensors[hname]
            if m["arch"] == "llama" and (".q_proj." in hname or ".k_proj." in hname):
                got = llama_permute(got, m["heads"], m["kv"] if ".k_proj." in hname else m["heads"])
            want = to_outtype(values, outtype)
            if not same_bits(got, want):
                bad = np.argwhere(got.view(f"u{got.dtype.itemsize}") !=
                                  want.view(f"u{want.dtype.itemsize}")) if got.shape == want.shape else []
                where = tuple(int(i) for i in bad[0]) if len(bad) else None
                detail = (f" first at {where}: slim {float(got[where])!r} gguf-py "
                          f"{float(want[where])!r}") if where else ""
                failures.append(f"{m['name']} {outtype}: {hname} ({gname}, {qtype.name}) shape "
                                f"{got.shape} vs {want.shape}, {len(bad)} values differ{detail}")
            else:
                checked_types.add(qtype.name)
        if outtype == "bf16" and m["shard"]:
            shards = [n for n in os.listdir(save) if n.endswith(".safetensors")]
            if len(shards) < 2 or not os.path.exists(os.path.join(save, "model.safetensors.index.json")):
                failures.append(f"{m['name']}: --shard_size {m['shard']} wrote {shards}, no shards")
        if outtype == "f32":
            check_config(m, save)
            if m["tokenizer"]:
                check_tokenizer(m, save)
    return checked_types


def check_config(m, save):
    with open(os.path.join(save, "config.json")) as f:
        config = json.load(f)
    want = {
        "architectures": [HF_ARCH[m["arch"]]], "vocab_size": m["vocab"], "hidden_size": m["hidden"],
        "intermediate_size": m["ff"], "num_hidden_layers": m["layers"],
        "num_attention_heads": m["heads"], "num_key_value_heads": m["kv"],
        "head_dim": m["head_dim"], "rms_norm_eps": m["eps"], "rope_theta": m["theta"],
        "max_position_embeddings": 4096, "tie_word_embeddings": m["tied"],
        "torch_dtype": "float32",
    }
    if m["arch"] == "llama":
        want["attention_bias"] = bool(m["bias"])
    rope = {
        "llama3": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                   "high_freq_factor": 4.0, "original_max_position_embeddings": 8192},
        "yarn": {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768,
                 "beta_fast": 32.0, "beta_slow": 1.0},
        "linear": {"rope_type": "linear", "factor": 2.0},
    }[m["rope"]]
    want["rope_scaling"] = rope
    for key, value in want.items():
        got = config.get(key)
        if isinstance(value, dict) and isinstance(got, dict):
            same = set(value) == set(got) and all(
                math.isclose(got[k], v, rel_tol=1e-9) if isinstance(v, float) else got[k] == v
                for k, v in value.items())
        elif isinstance(value, float):
            same = isinstance(got, (int, float)) and got == value
        else:
            same = got == value
        if not same:
            failures.append(f"{m['name']}: config.json {key} is {got!r}, expected {value!r}")


def check_tokenizer(m, save):
    tokenizer = tokenizers.Tokenizer.from_file(os.path.join(save, "tokenizer.json"))
    vocab = tokenizer.get_vocab()
    bos = vocab.get("<|begin_of_text|>")
    got = tokenizer.encode(" the cat").ids
    want = [bos, vocab.get("Ġthe"), vocab.get("Ġ"), vocab.get("cat")]
    if got != want:
        failures.append(f"{m['name']}: tokenizer.json encodes ' the cat' as {got}, expected {want}")
    if any(token.startswith("[PAD") for token in vocab):
        failures.append(f"{m['name']}: tokenizer.json keeps UNUSED [PADn] tokens")


# ------------------------------------------------------------ round trip through llama.cpp

def transformers_python():
    python = os.environ.get("SLIM_TRANSFORMERS_PYTHON")
    if not python:
        result = subprocess.run(["bash", os.path.join(ROOT, "scripts", "setup-python-transformers.sh"),
                                 "--print-python"], capture_output=True, text=True)
        python = result.stdout.strip() if result.returncode == 0 else ""
    return python if python and os.path.exists(python) else None


CONVERTER_MODELS = [
    # name, random-model arguments, config.json additions
    ("llama", ["--arch", "LlamaForCausalLM", "--num_attention_heads", "4",
               "--num_key_value_heads", "2", "--hidden_size", "128", "--head_dim", "64"],
     {"rope_theta": 500000.0, "rope_scaling": {"rope_type": "llama3", "factor": 8.0,
                                                "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                                "original_max_position_embeddings": 8192}}),
    ("qwen2", ["--arch", "Qwen2ForCausalLM"], {}),
    ("qwen3", ["--arch", "Qwen3ForCausalLM", "--tie_word_embeddings"], {}),
]
GEOMETRY = ["architectures", "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
            "num_attention_heads", "num_key_value_heads", "head_dim", "rms_norm_eps", "rope_theta",
            "rope_scaling", "tie_word_embeddings", "max_position_embeddings"]


def check_converter_round_trip(workdir):
    helper = os.path.join(ROOT, "tests", "python", "llama_cpp_convert.py")
    python = transformers_python()
    converter = os.path.join(LLAMA_CPP, "convert_hf_to_gguf.py")
    if not (python and os.path.exists(helper) and os.path.exists(converter)):
        print("note: round trip through convert_hf_to_gguf.py skipped (needs "
              "scripts/setup-python-transformers.sh, tests/python/llama_cpp_convert.py and the "
              "llama.cpp assets)")
        return 0
    done = 0
    for name, arguments, extra in CONVERTER_MODELS:
        source = os.path.join(workdir, f"rt-{name}")
        result = subprocess.run([SLIM, "random-model", "--save_path", source, "--dtype", "fp32",
                                 "--vocab_size", "320", "--intermediate_size", "256"] + arguments,
                                capture_output=True, text=True)
        if result.returncode != 0:
            failures.append(f"converter {name}: random-model failed: {result.stderr}")
            continue
        config_path = os.path.join(source, "config.json")
        with open(config_path) as f:
            config = json.load(f)
        config.update(extra)
        with open(config_path, "w") as f:
            json.dump(config, f, indent=2)
        original = load_file(os.path.join(source, "model.safetensors"))
        for outtype in ("f32", "q8_0"):
            gguf_path = os.path.join(workdir, f"rt-{name}-{outtype}.gguf")
            result = subprocess.run([python, helper, LLAMA_CPP, "gpt-2", source, gguf_path, outtype],
                                    capture_output=True, text=True)
            if result.returncode != 0:
                failures.append(f"converter {name} {outtype}: convert_hf_to_gguf.py failed:\n"
                                f"{result.stderr[-2000:]}")
                continue
            back = os.path.join(workdir, f"rt-{name}-{outtype}-hf")
            tensors = slim_import(gguf_path, back, "f32", None)
            if tensors is None:
                continue
            if sorted(tensors) != sorted(original):
                failures.append(f"converter {name} {outtype}: tensors differ: "
                                f"{sorted(set(tensors) ^ set(original))}")
            for key, want in original.items():
                got = tensors.get(key)
                if got is None or got.shape != want.shape:
                    continue
                if outtype == "f32" or want.ndim == 1:  # the converter keeps 1-D tensors in f32
                    if not np.array_equal(got, want):
                        failures.append(f"converter {name} {outtype}: {key} differs from the "
                                        f"original (max {np.abs(got - want).max()})")
                else:
                    # q8_0: d = amax / 127 stored as fp16 (relative error <= 2^-11), values
                    # round(x / d) * d: off by at most d / 2 plus 127 times d's own rounding.
                    step = np.abs(want.reshape(-1, 32)).max(axis=1) / 127
                    error = np.abs((got - want).reshape(-1, 32)).max(axis=1)
                    worst = float((error / np.maximum(step, 1e-30)).max())
                    if worst > 0.5 + 127 * 2.0 ** -11:
                        failures.append(f"converter {name} q8_0: {key} is off by {worst:.3f} "
                                        "quantization steps")
            with open(os.path.join(back, "config.json")) as f:
                imported = json.load(f)
            for key in GEOMETRY:
                want, got = config.get(key), imported.get(key)
                if key == "rope_scaling" and want is None:
                    want = None
                if want != got and not (isinstance(want, float) and isinstance(got, (int, float))
                                        and math.isclose(want, got, rel_tol=1e-7)):
                    failures.append(f"converter {name} {outtype}: config.json {key} is {got!r}, "
                                    f"the original has {want!r}")
            done += 1
    return done


def main():
    covered = set()
    with tempfile.TemporaryDirectory(prefix="slim-gguf-import-") as workdir:
        for m in MODELS:
            covered |= check_model(m, workdir)
        round_trips = check_converter_round_trip(workdir)
    missing = {t.name for t in TYPES} - covered
    if missing:
        failures.append(f"types never checked successfully: {sorted(missing)}")
    if failures:
        for failure in failures[:40]:
            print("FAIL:", failure)
        print(f"{len(failures)} failures")
        sys.exit(1)
    print(f"OK: {len(MODELS)} GGUF models imported as f32/bf16/f16 equal gguf-py's "
          f"dequantization for {', '.join(sorted(covered))}; {round_trips} round trips through "
          "convert_hf_to_gguf.py give the original models back")


if __name__ == "__main__":
    main()
