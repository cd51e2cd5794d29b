"""Cross-checks Slim's decoder runtime against Hugging Face transformers' modeling code.

For each family (Llama, Mistral, Qwen2, Qwen3, Qwen2-MoE, Qwen3-MoE, Mixtral) and a set of config variants (GQA and MHA, tied
embeddings, an explicit head_dim, Qwen2's q/k/v biases, Qwen3's q/k norms, Mistral's and Qwen2's
sliding window shorter than the sequence, llama3 / linear / dynamic / yarn rope scaling), a random
fp32 model is written with `slim random-model` (variants edit its config.json), and the logits of a
fixed batch of token ids computed by transformers (eager attention, fp32, CPU) are compared with
`slim eval logits`: max |slim - hf| / max |hf| must stay below 1e-4.

Each variant that edits config.json is also run through transformers without the edit: the logits
must change by far more than the tolerance, so a variant that exercises nothing (a window longer
than the sequence, a rope scaling that is a no-op at these positions) fails instead of passing.

Environment (scripts/setup-python-transformers.sh): transformers 4.51.3, the first release with
Qwen3 and the last one that does not refuse torch < 2.1, on Debian 12's python3-torch 1.13.1 (CPU)
in a venv with system site packages; pinned in tests/python/requirements-transformers.txt. That
transformers imports three torch-2 names at module level that its eager CPU path never uses; on a
torch without them, _stub_torch2_names() adds inert stand-ins before importing it (see there). With
a torch >= 2.1 nothing is stubbed.

Usage: transformers_conformance.py SLIM_EXECUTABLE [-v]
Exit status 77 (CTest's skip code) when torch or transformers is missing.
"""
import json
import os
import subprocess
import sys
import tempfile
import types

TOLERANCE = 1e-4  # max |slim - hf| / max |hf|
MIN_VARIANT_EFFECT = 1e-2  # relative change an edited config must cause in transformers' logits


def _stub_torch2_names(torch):
    """Lets transformers 4.51.3 import on torch 1.13 (Debian 12's python3-torch).

    It needs, at import time only:
    - `import torch.distributed.tensor` (modeling_utils.py; DTensor, for tensor parallelism);
    - `@torch.compiler.disable` and `torch.compiler.is_compiling()` (flex-attention integration,
      compile guards);
    - `torch.float8_e4m3fn` / `torch.float8_e5m2` as dict values (dtype tables for loading F8).
    None of these is on the path this test runs (eager attention, fp32, CPU, no tensor parallelism,
    no compilation, no F8 tensors): an empty module, a pass-through decorator returning False for
    is_compiling, and placeholder objects that equal no real dtype keep that true.
    """
    try:
        import torch.distributed.tensor  # noqa: F401
    except ImportError:
        module = types.ModuleType("torch.distributed.tensor")
        sys.modules["torch.distributed.tensor"] = module
        torch.distributed.tensor = module
    if not hasattr(torch, "compiler"):
        compiler = types.ModuleType("torch.compiler")

        def disable(fn=None, recursive=True):
            return fn if fn is not None else (lambda f: f)

        compiler.disable = disable
        compiler.is_compiling = lambda: False
        sys.modules["torch.compiler"] = compiler
        torch.compiler = compiler
    for name in ("float8_e4m3fn", "float8_e5m2"):
        if not hasattr(torch, name):
            setattr(torch, name, object())


try:
    import numpy as np
    import torch

    _stub_torch2_names(torch)
    import transformers
    from safetensors.numpy import load_file
    from transformers import AutoConfig, AutoModelForCausalLM
except ImportError as error:  # pragma: no cover
    print(f"SKIP: reference packages missing ({error}); run scripts/setup-python-transformers.sh")
    sys.exit(77)

SLIM = sys.argv[1]
VERBOSE = "-v" in sys.argv[2:]
transformers.logging.set_verbosity_error()
torch.manual_seed(0)

VOCAB = 300
BATCH, SEQ = 2, 24
WINDOW = 8  # sliding window shorter than SEQ

# A small mixture of experts: 6 experts, 2 per token, narrow experts.
MOE = ["--num_experts", "6", "--moe_intermediate_size", "40",
       "--shared_expert_intermediate_size", "56"]
TOP2 = ["--num_experts_per_tok", "2"]

# name, architecture, extra `slim random-model` flags, config.json edits.
CASES = [
    ("llama", "LlamaForCausalLM", [], {}),
    ("llama-mha-tied", "LlamaForCausalLM", ["--num_key_value_heads", "4", "--tie_word_embeddings"],
     {}),
    ("llama-gqa-8x2-head_dim32", "LlamaForCausalLM",
     ["--num_attention_heads", "8", "--num_key_value_heads", "2", "--head_dim", "32"], {}),
    ("llama-rope-llama3", "LlamaForCausalLM", [],
     {"rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                       "high_freq_factor": 4.0, "original_max_position_embeddings": 64}}),
    ("llama-rope-linear", "LlamaForCausalLM", [],
     {"rope_scaling": {"rope_type": "linear", "factor": 4.0}}),
    # Positions beyond max_position_embeddings: dynamic NTK recomputes the frequencies.
    ("llama-rope-dynamic", "LlamaForCausalLM", [],
     {"max_position_embeddings": 16, "rope_scaling": {"rope_type": "dynamic", "factor": 2.0}}),
    ("mistral", "MistralForCausalLM", [], {}),
    ("mistral-sliding-window", "MistralForCausalLM", [], {"sliding_window": WINDOW}),
    ("mistral-gqa-tied-window", "MistralForCausalLM",
     ["--num_attention_heads", "8", "--num_key_value_heads", "2", "--tie_word_embeddings"],
     {"sliding_window": WINDOW}),
    ("qwen2-bias", "Qwen2ForCausalLM", [], {}),
    ("qwen2-bias-gqa-tied", "Qwen2ForCausalLM",
     ["--num_attention_heads", "8", "--num_key_value_heads", "2", "--tie_word_embeddings"], {}),
    # transformers 4.51 applies Qwen2's window to every layer whatever max_window_layers says (its
    # mask is built once per model); max_window_layers 0 is the setting where that is also right.
    ("qwen2-sliding-window", "Qwen2ForCausalLM", [],
     {"use_sliding_window": True, "sliding_window": WINDOW, "max_window_layers": 0}),
    ("qwen3-qk_norm", "Qwen3ForCausalLM", [], {}),
    ("qwen3-qk_norm-tied-head_dim32", "Qwen3ForCausalLM",
     ["--head_dim", "32", "--tie_word_embeddings"], {}),
    ("qwen3-mha", "Qwen3ForCausalLM", ["--num_key_value_heads", "4"], {}),
    ("qwen3-rope-yarn", "Qwen3ForCausalLM", [],
     {"max_position_embeddings": 256,
      "rope_scaling": {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 64}}),
    # Mixtures of experts: softmax top-k routing (renormalised or not), experts by index, Qwen2-MoE's
    # sigmoid-gated shared expert, dense layers between sparse ones.
    ("qwen2-moe-shared", "Qwen2MoeForCausalLM", MOE + TOP2, {}),
    ("qwen2-moe-unnormalised", "Qwen2MoeForCausalLM", MOE + TOP2, {"norm_topk_prob": False}),
    ("qwen2-moe-dense-layer", "Qwen2MoeForCausalLM", MOE + TOP2 + ["--layers", "3", "--mlp_only_layers", "1"],
     {}),
    ("qwen3-moe-sparse-step", "Qwen3MoeForCausalLM", MOE + TOP2 + ["--layers", "3", "--decoder_sparse_step", "2"],
     {}),
    ("qwen3-moe", "Qwen3MoeForCausalLM", MOE + TOP2, {}),
    ("qwen3-moe-unnormalised-top3", "Qwen3MoeForCausalLM", MOE + ["--num_experts_per_tok", "3"],
     {"norm_topk_prob": False}),
    ("mixtral", "MixtralForCausalLM", MOE + TOP2, {}),
    ("mixtral-gqa-tied-window", "MixtralForCausalLM",
     MOE + TOP2 + ["--num_attention_heads", "8", "--num_key_value_heads", "2", "--tie_word_embeddings"],
     {"sliding_window": WINDOW}),
]

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
        print("FAIL:", message)


def slim(*args):
    result = subprocess.run([SLIM, *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"slim {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    return result.stdout


def hf_model(model_dir):
    """transformers' model for `model_dir`: its config class reads config.json, its model class is
    built from that config, and the checkpoint's tensors are loaded by name, strictly.

    (from_pretrained's loading code calls torch-2 APIs, e.g. named_parameters(remove_duplicate=);
    load_state_dict(strict) checks the same thing that matters here: every tensor of the
    checkpoint has a parameter of the same name and shape, and every parameter is loaded, except
    lm_head.weight when the embeddings are tied, which must then be the embedding matrix itself.)
    """
    config = AutoConfig.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_config(config, torch_dtype=torch.float32,
                                             attn_implementation="eager")
    state = {name: torch.from_numpy(array)
             for name, array in load_file(os.path.join(model_dir, "model.safetensors")).items()}
    result = model.load_state_dict(state, strict=False)
    tied = config.tie_word_embeddings
    expected_missing = ["lm_head.weight"] if tied else []
    if list(result.missing_keys) != expected_missing or result.unexpected_keys:
        raise SystemExit(f"{model_dir}: transformers' {type(model).__name__} does not take the "
                         f"checkpoint: missing {result.missing_keys}, "
                         f"unexpected {result.unexpected_keys}")
    if tied:
        assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
    model.eval()
    assert model.config._attn_implementation == "eager"
    assert model.lm_head.weight.dtype == torch.float32
    return model


def hf_logits(model_dir, ids):
    model = hf_model(model_dir)
    with torch.no_grad():
        return model(torch.from_numpy(ids)).logits.to(torch.float64).numpy()


def relative_error(actual, expected):
    return float(np.max(np.abs(actual.astype(np.float64) - expected)) / np.max(np.abs(expected)))


def write_model(directory, arch, flags, seed, edits=None):
    slim("random-model", "--arch", arch, "--dtype", "fp32", "--vocab_size", str(VOCAB),
         "--seed", str(seed), "--save_path", directory, *flags)
    if edits:
        path = os.path.join(directory, "config.json")
        with open(path) as f:
            config = json.load(f)
        config.update(edits)
        with open(path, "w") as f:
            json.dump(config, f, indent=2)


def run_case(tmp, index, name, arch, flags, edits):
    ids = np.random.default_rng(100 + index).integers(0, VOCAB, (BATCH, SEQ), dtype=np.int64)
    model_dir = os.path.join(tmp, name)
    write_model(model_dir, arch, flags, seed=index + 1, edits=edits)
    output = os.path.join(tmp, f"{name}.logits.safetensors")
    slim("eval", "logits", "--model_path", model_dir, "--output", output,
         *[arg for row in ids for arg in ("--ids", " ".join(map(str, row)))])
    written = load_file(output)
    check(np.array_equal(written["input_ids"], ids), f"{name}: input_ids written back differ")
    ours = written["logits"]
    reference = hf_logits(model_dir, ids)
    check(ours.shape == reference.shape, f"{name}: shape {ours.shape} != {reference.shape}")
    error = relative_error(ours, reference)
    check(error < TOLERANCE, f"{name}: max relative error {error:.3e} >= {TOLERANCE:g}")
    effect = None
    if edits:
        plain_dir = os.path.join(tmp, name + "-unedited")
        write_model(plain_dir, arch, flags, seed=index + 1)
        effect = relative_error(hf_logits(plain_dir, ids), reference)
        check(effect > MIN_VARIANT_EFFECT,
              f"{name}: the config edit {edits} changes transformers' logits by only {effect:.3e}")
    print(f"{name:32s} max rel err {error:.2e}  (max |logit| {np.max(np.abs(reference)):.3f}"
          + (f", variant changes logits by {effect:.2e})" if effect is not None else ")"))
    if VERBOSE:
        print("   top-1 agreement", float(np.mean(ours.argmax(-1) == reference.argmax(-1))))


print(f"transformers {transformers.__version__}, torch {torch.__version__}, "
      f"batch {BATCH} x {SEQ} tokens, tolerance {TOLERANCE:g}")
with tempfile.TemporaryDirectory() as tmp:
    for index, (name, arch, flags, edits) in enumerate(CASES):
        run_case(tmp, index, name, arch, flags, edits)

if failures:
    print(f"{len(failures)} failure(s)")
    sys.exit(1)
print(f"OK: {len(CASES)} models agree with transformers")
