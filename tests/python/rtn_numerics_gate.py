"""Gate for issue 12, item 6: Slim's default rounding convention against compressed-tensors' RTN.

For each round-to-nearest scheme -- W8A16 per channel, W4A16 group 128, W8A8_DYNAMIC (int8
per-channel weights, int8 per-token activations at run time) -- the model is converted with
`slim convert --format compressed-tensors --scheme ...` under the default numerics (precise), the
saved codes are read back from the safetensors files (pack-quantized int32 words unpacked as
docs/formats.md says, int-quantized int8 as is) and dequantized, (q - zero_point) * scale in fp32,
into transformers' model of the float checkpoint (fp32, eager attention, CPU); its perplexity is
measured on data/eval/sotu_2001_2021.txt. The same linears are then quantized by
compressed-tensors' own RTN from the float weights: the `compressed_tensors` package's
calculate_qparams and fake_quantize when it is installed (tests/python/requirements-transformers
.txt pins 0.9.4, the newest release that accepts torch < 2.10), otherwise the same formulas
written out below from its source (helpers.py calculate_qparams, lifecycle/forward.py _quantize /
_dequantize). Gate: ΔPPL(slim, precise) <= ΔPPL(compressed-tensors) for every scheme and model, no
epsilon. W8A8_DYNAMIC's activations are quantized in both arms by the same run-time rule, the one
compressed-tensors' forward applies to a dynamic per-token int8 input (its calculate_qparams of
each token's min/max: scale amax/127.5, codes clamped to [-128, 127]), so the arms differ only by
their weights. The msModelSlim convention (`--numerics msmodelslim`) is measured and printed, not
gated.

Models: the fixture models/sotu-llama-13m, and the pretrained SmolLM2-135M Hugging Face directory
when present (scripts/fetch-pretrained.sh; $SLIM_MODELS_DIR or ${SLIM_CACHE:-~/.cache/slim}/models
/smollm2-135m-instruct), skipped otherwise. Windows as `slim eval ppl --seq_len 256` makes them
(BOS + 255 tokens when the tokenizer adds BOS, every position but the first scored), the first
WINDOWS of the text.

Usage: rtn_numerics_gate.py SLIM_EXECUTABLE [-v]
Environment: RTN_GATE_WINDOWS (fixture, default 16), RTN_GATE_PRETRAINED_WINDOWS (SmolLM2, default
2: its forward costs about ten times the fixture's), RTN_GATE_PRETRAINED=0 skips SmolLM2,
RTN_GATE_PRETRAINED_MSMODELSLIM=1 also measures msmodelslim there. docs/quantization.md's table is
this script with more windows (the command is there).
Exit status 77 (CTest's skip code) when torch or transformers is missing.
"""
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import types

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FIXTURE = os.path.join(ROOT, "models", "sotu-llama-13m")
TEXT = os.path.join(ROOT, "data", "eval", "sotu_2001_2021.txt")
SEQ_LEN = 256
SCHEMES = [  # label, slim convert flags, compressed-tensors weight args, int8 per-token activations
    ("W8A16 per-channel", ["--scheme", "w8a16"], dict(num_bits=8, strategy="channel"), False),
    ("W4A16 g128", ["--scheme", "w4a16", "--group_size", "128"],
     dict(num_bits=4, strategy="group", group_size=128), False),
    ("W8A8_DYNAMIC", ["--scheme", "w8a8_dynamic"], dict(num_bits=8, strategy="channel"), True),
]


def _stub_torch2_names(torch):
    """transformers 4.51.3 and compressed-tensors 0.9.4 on torch 1.13: the inert stand-ins of
    transformers_conformance.py (torch.distributed.tensor, torch.compiler, float8 dtype names used
    only as table entries; nothing here touches F8 tensors or compilation)."""
    try:
        import torch.distributed.tensor  # noqa: F401
    except ImportError:
        module = types.ModuleType("torch.distributed.tensor")
        sys.modules["torch.distributed.tensor"] = module
        torch.distributed.tensor = module
    if not hasattr(torch, "compiler"):
        compiler = types.ModuleType("torch.compiler")
        compiler.disable = lambda fn=None, recursive=True: fn if fn is not None else (lambda f: f)
        compiler.is_compiling = lambda: False
        sys.modules["torch.compiler"] = compiler
        torch.compiler = compiler
    for name in ("float8_e4m3fn", "float8_e5m2"):
        if not hasattr(torch, name):
            setattr(torch, name, object())


try:
    import numpy as np  # noqa: F401  (safetensors' numpy backend)
    import torch

    _stub_torch2_names(torch)
    import transformers
    from safetensors.torch import load_file
    from tokenizers import Tokenizer
    from transformers import AutoConfig, AutoModelForCausalLM
except ImportError as error:  # pragma: no cover
    print(f"SKIP: reference packages missing ({error}); run scripts/setup-python-transformers.sh")
    sys.exit(77)

try:
    import compressed_tensors
    from compressed_tensors.quantization import QuantizationArgs
    from compressed_tensors.quantization.lifecycle.forward import fake_quantize as ct_fake_quantize
    from compressed_tensors.quantization.utils import calculate_qparams as ct_calculate_qparams
    CT_SOURCE = f"compressed_tensors {compressed_tensors.__version__} (package)"
except Exception as error:  # ImportError, or an import-time failure of another release
    compressed_tensors = None
    CT_SOURCE = f"compressed-tensors' formulas written out (package not usable: {error})"

SLIM = sys.argv[1]
VERBOSE = "-v" in sys.argv[2:]
transformers.logging.set_verbosity_error()
torch.manual_seed(0)
torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
FP32_EPS = torch.finfo(torch.float32).eps


# ------------------------------------------------------------------ compressed-tensors' RTN

def ct_qparams(min_vals, max_vals, num_bits, symmetric, package=True):
    """compressed-tensors' calculate_qparams for int types: scale and integer zero-point."""
    if package and compressed_tensors is not None:
        args = QuantizationArgs(num_bits=num_bits, type="int", symmetric=symmetric)
        return ct_calculate_qparams(min_vals, max_vals, args)
    min_vals = torch.min(min_vals, torch.zeros_like(min_vals))
    max_vals = torch.max(max_vals, torch.zeros_like(max_vals))
    bit_min, bit_max = -2.0 ** (num_bits - 1), 2.0 ** (num_bits - 1) - 1
    bit_range = bit_max - bit_min
    if symmetric:
        scales = torch.max(min_vals.abs(), max_vals.abs()) / (bit_range / 2)
        scales = torch.clamp(scales, min=FP32_EPS)
        zero_points = torch.zeros_like(scales)
    else:
        scales = torch.clamp((max_vals - min_vals) / bit_range, min=FP32_EPS)
        zero_points = torch.clamp(bit_min - min_vals / scales, bit_min, bit_max)
    return scales, torch.round(zero_points).to(torch.int8)


def ct_fake(x, scale, zero_point, num_bits, package=True, **args):
    """compressed-tensors' fake_quantize: clamp(round(x / s + zp), qmin, qmax), (q - zp) * s."""
    if package and compressed_tensors is not None:
        return ct_fake_quantize(x, scale, zero_point,
                                QuantizationArgs(num_bits=num_bits, type="int", **args))
    bit_min, bit_max = -2.0 ** (num_bits - 1), 2.0 ** (num_bits - 1) - 1
    shape = x.shape
    if args.get("strategy") == "group":  # [O, I] -> [O, I/g, g] against [O, I/g, 1]
        g = args["group_size"]
        x = x.reshape(shape[0], shape[1] // g, g)
        scale, zero_point = scale.unsqueeze(-1), zero_point.unsqueeze(-1)
    zp = zero_point.to(x.dtype)
    q = torch.round(torch.clamp(x / scale + zp, bit_min, bit_max))
    return ((q - zp) * scale).reshape(shape)


def ct_rtn_weight(weight, num_bits, strategy, group_size=None, symmetric=True, package=True):
    """RTN of a float weight [O, I] as compressed-tensors' memoryless min/max observer does."""
    w = weight.to(torch.float32)
    if strategy == "group":
        grouped = w.reshape(w.shape[0], -1, group_size)
        mn, mx = grouped.amin(-1), grouped.amax(-1)
        args = dict(strategy="group", group_size=group_size, symmetric=symmetric)
    else:
        mn, mx = w.amin(-1, keepdim=True), w.amax(-1, keepdim=True)
        args = dict(strategy="channel", symmetric=symmetric)
    scale, zp = ct_qparams(mn, mx, num_bits, symmetric, package)
    return ct_fake(w, scale, zp, num_bits, package, **args)


def ct_dynamic_per_token_int8(x):
    """The fake quantization compressed-tensors' forward applies to a dynamic, symmetric int8
    per-token input: per-token min/max -> calculate_qparams -> fake_quantize."""
    mn = x.amin(-1, keepdim=True)
    mx = x.amax(-1, keepdim=True)
    scale, zp = ct_qparams(mn, mx, 8, True)
    return ct_fake(x, scale, zp, 8, strategy="token", symmetric=True)


# ------------------------------------------------------------------ Slim's saved codes

def unpack_int32(packed, bits, count):
    """pack_to_int32 inverse (docs/formats.md, compressed-tensors): element j of each run of 32/b
    along the last dim sits at bits [b*j, b*(j+1)) of one int32, stored as v + 2^(b-1)."""
    per_word = 32 // bits
    words = packed.to(torch.int64) & 0xFFFFFFFF
    shifts = torch.arange(per_word, dtype=torch.int64) * bits
    values = (words.unsqueeze(-1) >> shifts) & ((1 << bits) - 1)
    values = values.reshape(*packed.shape[:-1], packed.shape[-1] * per_word)[..., :count]
    return values - (1 << (bits - 1))


def read_slim_weights(out_dir):
    """{module: dequantized fp32 weight} of every quantized linear of a compressed-tensors output."""
    config = json.load(open(os.path.join(out_dir, "config.json")))["quantization_config"]
    groups = list(config["config_groups"].values())
    tensors = {}
    for name in sorted(os.listdir(out_dir)):
        if name.endswith(".safetensors"):
            tensors.update(load_file(os.path.join(out_dir, name)))
    weights = {}
    for key in tensors:
        if not key.endswith(".weight_scale"):
            continue
        module = key[: -len(".weight_scale")]
        group = groups[0] if len(groups) == 1 else next(
            g for g in groups if module in g["targets"])
        args = group["weights"]
        bits = args["num_bits"]
        scale = tensors[key].to(torch.float32)
        if module + ".weight_packed" in tensors:
            out_features, in_features = tensors[module + ".weight_shape"].tolist()
            q = unpack_int32(tensors[module + ".weight_packed"], bits, in_features)
            zp = torch.zeros_like(scale)
            if module + ".weight_zero_point" in tensors:  # packed along the output dim
                zp = unpack_int32(tensors[module + ".weight_zero_point"].t(), bits,
                                  out_features).t()
        else:
            q = tensors[module + ".weight"].to(torch.int64)
            zp = tensors.get(module + ".weight_zero_point", torch.zeros_like(scale))
        zp = zp.to(torch.float32)
        if scale.shape[-1] > 1:  # per group
            g = q.shape[-1] // scale.shape[-1]
            scale = scale.repeat_interleave(g, -1)
            zp = zp.repeat_interleave(g, -1)
        weights[module] = (q.to(torch.float32) - zp) * scale
    return weights


# ------------------------------------------------------------------ transformers

def load_model(model_dir):
    config = AutoConfig.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_config(config, torch_dtype=torch.float32,
                                             attn_implementation="eager")
    state = {}
    for name in sorted(os.listdir(model_dir)):
        if name.endswith(".safetensors"):
            state.update({k: v.to(torch.float32)
                          for k, v in load_file(os.path.join(model_dir, name)).items()})
    result = model.load_state_dict(state, strict=False)
    expected_missing = ["lm_head.weight"] if config.tie_word_embeddings else []
    if list(result.missing_keys) != expected_missing or result.unexpected_keys:
        raise SystemExit(f"{model_dir}: missing {result.missing_keys}, "
                         f"unexpected {result.unexpected_keys}")
    model.eval()
    return model


def make_windows(model_dir, count):
    tokenizer = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    tok_config = json.load(open(os.path.join(model_dir, "tokenizer_config.json")))
    ids = tokenizer.encode(open(TEXT, encoding="utf-8").read(), add_special_tokens=False).ids
    bos = AutoConfig.from_pretrained(model_dir).bos_token_id
    add_bos = bool(tok_config.get("add_bos_token", False)) and bos is not None
    per = SEQ_LEN - 1 if add_bos else SEQ_LEN
    count = min(count, len(ids) // per)
    rows = [([bos] if add_bos else []) + ids[w * per:(w + 1) * per] for w in range(count)]
    return torch.tensor(rows, dtype=torch.int64)


def perplexity(model, windows, act_quant=None, batch=4):
    hooks = []
    if act_quant is not None:
        for name, module in model.named_modules():
            if isinstance(module, torch.nn.Linear) and name != "lm_head":
                hooks.append(module.register_forward_pre_hook(
                    lambda m, inputs: (act_quant(inputs[0]),) + tuple(inputs[1:])))
    nll, count = 0.0, 0
    try:
        with torch.no_grad():
            for i in range(0, len(windows), batch):
                x = windows[i:i + batch]
                logits = model(x).logits[:, :-1]
                nll += torch.nn.functional.cross_entropy(
                    logits.reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1),
                    reduction="sum").double().item()
                count += x[:, 1:].numel()
    finally:
        for hook in hooks:
            hook.remove()
    return math.exp(nll / count)


def slim(*args):
    result = subprocess.run([SLIM, *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"slim {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    return result.stdout


class Evaluator:
    """One float model whose quantized linears are swapped in and out."""

    def __init__(self, model_dir, windows):
        self.model = load_model(model_dir)
        self.modules = dict(self.model.named_modules())
        self.windows = make_windows(model_dir, windows)
        self.original = {}

    def run(self, weights, act_quant=None):
        for module, weight in weights.items():
            linear = self.modules[module]
            assert linear.weight.shape == weight.shape, (module, linear.weight.shape, weight.shape)
            self.original.setdefault(module, linear.weight.data)
            linear.weight.data = weight
        try:
            return perplexity(self.model, self.windows, act_quant)
        finally:
            for module in weights:
                self.modules[module].weight.data = self.original[module]

    def float_weight(self, module):
        return self.original.get(module, self.modules[module].weight.data)


def gate_model(label, model_dir, windows, tmp, failures, msmodelslim=True):
    start = time.time()
    evaluator = Evaluator(model_dir, windows)
    tokens = evaluator.windows[:, 1:].numel()
    base = evaluator.run({})
    print(f"\n{label}: {model_dir}\n{evaluator.windows.shape[0]} windows of {SEQ_LEN} "
          f"({tokens} tokens scored), float perplexity {base:.4f}")
    print(f"| scheme | slim precise | compressed-tensors RTN | slim msmodelslim |")
    print(f"|---|---|---|---|")
    # Groups of 128 unless a linear's input dim is not a multiple (SmolLM2-135M: 576): then 64.
    in_dims = {m.in_features for m in evaluator.modules.values() if hasattr(m, "in_features")}
    group = next(g for g in (128, 64, 32) if all(d % g == 0 for d in in_dims))
    for scheme, flags, ct_args, act in SCHEMES:
        if ct_args.get("strategy") == "group" and group != ct_args["group_size"]:
            scheme = scheme.replace(str(ct_args["group_size"]), str(group))
            flags = [str(group) if f == str(ct_args["group_size"]) else f for f in flags]
            ct_args = dict(ct_args, group_size=group)
        act_quant = ct_dynamic_per_token_int8 if act else None
        result, saved = {}, {}
        for numerics in ("precise", "msmodelslim") if msmodelslim else ("precise",):
            out = os.path.join(tmp, f"{label}-{scheme.split()[0]}-{numerics}")
            slim("convert", "--model_path", model_dir, "--save_path", out,
                 "--format", "compressed-tensors", *flags,
                 *([] if numerics == "precise" else ["--numerics", numerics]))
            saved[numerics] = read_slim_weights(out)
            result[numerics] = evaluator.run(saved[numerics], act_quant)
        slim_weights = saved["precise"]
        ct_weights = {module: ct_rtn_weight(evaluator.float_weight(module), **ct_args)
                      for module in slim_weights}
        if compressed_tensors is not None:  # the written-out formulas agree with the package
            module = next(iter(slim_weights))
            for symmetric in (True, False):
                args = dict(ct_args, symmetric=symmetric)
                w = evaluator.float_weight(module)
                if not torch.equal(ct_rtn_weight(w, **args), ct_rtn_weight(w, package=False, **args)):
                    failures.append(f"{scheme}: the written-out formulas differ from the package")
        result["ct"] = evaluator.run(ct_weights, act_quant)
        delta = {k: 100.0 * (v / base - 1.0) for k, v in result.items()}
        cells = [f"{result[k]:.4f} ({delta[k]:+.3f}%)" if k in result else "not run"
                 for k in ("precise", "ct", "msmodelslim")]
        print(f"| {scheme} | " + " | ".join(cells) + " |", flush=True)
        if VERBOSE:
            same = sum(torch.equal(slim_weights[m], ct_weights[m]) for m in slim_weights)
            print(f"   {same}/{len(slim_weights)} linears equal to compressed-tensors' bit for bit")
        if not result["precise"] <= result["ct"]:
            failures.append(f"{label} {scheme}: slim precise ΔPPL {delta['precise']:+.4f}% > "
                            f"compressed-tensors {delta['ct']:+.4f}%")
            print("FAIL:", failures[-1])
    print(f"({time.time() - start:.0f} s)")


def pretrained_dir():
    models = os.environ.get("SLIM_MODELS_DIR") or os.path.join(
        os.environ.get("SLIM_CACHE") or os.path.expanduser("~/.cache/slim"), "models")
    return os.path.join(models, "smollm2-135m-instruct")


print(f"transformers {transformers.__version__}, torch {torch.__version__}; reference: {CT_SOURCE}")
failures = []
with tempfile.TemporaryDirectory() as tmp:
    gate_model("sotu-llama-13m", FIXTURE, int(os.environ.get("RTN_GATE_WINDOWS", "16")), tmp,
               failures)
    smol = pretrained_dir()
    if os.environ.get("RTN_GATE_PRETRAINED", "1") == "0":
        print("\nSmolLM2-135M: skipped (RTN_GATE_PRETRAINED=0)")
    elif os.path.isfile(os.path.join(smol, "config.json")):
        gate_model("smollm2-135m", smol, int(os.environ.get("RTN_GATE_PRETRAINED_WINDOWS", "2")),
                   tmp, failures, os.environ.get("RTN_GATE_PRETRAINED_MSMODELSLIM", "0") == "1")
    else:
        print(f"\nSmolLM2-135M: skipped ({smol} is absent; bash scripts/fetch-pretrained.sh)")

if failures:
    print(f"{len(failures)} failure(s)")
    sys.exit(1)
print("OK: slim's default numerics are at least as good as compressed-tensors' RTN everywhere")
