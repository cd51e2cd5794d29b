"""Cross-checks Slim's safetensors reader and writer against Hugging Face's `safetensors` package.

1. Files Slim writes (a sharded random model in bf16, fp16 and fp32) open with the reference
   reader; the index's weight_map and total_size agree with the shards.
2. Files the reference writes (every dtype incl. BF16 and F8, with metadata) read in Slim with the
   same dtypes, shapes and value checksums (`slim inspect --tensors --json`).

Usage: safetensors_conformance.py SLIM_EXECUTABLE
Exit status 77 (CTest's skip code) when the reference packages are missing.
"""
import json
import os
import subprocess
import sys
import tempfile

try:
    import ml_dtypes
    import numpy as np
    from safetensors import safe_open
    from safetensors.numpy import save_file
except ImportError as error:  # pragma: no cover
    print(f"SKIP: reference packages missing ({error}); run scripts/setup-python.sh")
    sys.exit(77)

SLIM = sys.argv[1]
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


def nbytes_of(array):
    return array.size * array.dtype.itemsize


def check_slim_written(tmp, dtype):
    out = os.path.join(tmp, f"random-{dtype}")
    slim("random-model", "--arch", "Qwen2ForCausalLM", "--dtype", dtype, "--shard_size", "30KB",
         "--save_path", out, "--seed", "3")
    with open(os.path.join(out, "model.safetensors.index.json")) as f:
        index = json.load(f)
    shards = sorted(set(index["weight_map"].values()))
    check(len(shards) > 2, f"{dtype}: expected several shards, got {shards}")
    seen = {}
    total = 0
    for shard in shards:
        with safe_open(os.path.join(out, shard), framework="np") as f:
            check(f.metadata() == {"format": "pt"}, f"{dtype}: metadata {f.metadata()}")
            for key in f.keys():
                array = f.get_tensor(key)
                seen[key] = shard
                total += nbytes_of(array)
    check(seen == index["weight_map"], f"{dtype}: weight_map disagrees with shard contents")
    check(index["metadata"]["total_size"] == total,
          f"{dtype}: total_size {index['metadata']['total_size']} != {total}")
    # Checksums through Slim's reader agree with the reference reader's values.
    report = json.loads(slim("inspect", "--model_path", out, "--tensors", "--json"))
    for entry in report["tensor_list"]:
        with safe_open(os.path.join(out, entry["file"]), framework="np") as f:
            expected = float(f.get_tensor(entry["name"]).astype(np.float64).sum())
        check(abs(entry["sum"] - expected) <= 1e-9 * max(1.0, abs(expected)),
              f"{dtype}: {entry['name']} sum {entry['sum']} != {expected}")
    check(report["problems"] == [], f"{dtype}: inspect problems {report['problems']}")


def check_reference_written(tmp):
    rng = np.random.default_rng(0)
    tensors = {
        "f64": rng.standard_normal((3, 4)),
        "f32": rng.standard_normal((5,)).astype(np.float32),
        "f16": rng.standard_normal((2, 3)).astype(np.float16),
        "bf16": rng.standard_normal((7,)).astype(ml_dtypes.bfloat16),
        "i64": rng.integers(-1000, 1000, (4,), dtype=np.int64),
        "i32": rng.integers(-1000, 1000, (3, 1), dtype=np.int32),
        "i16": rng.integers(-1000, 1000, (5,), dtype=np.int16),
        "i8": rng.integers(-128, 127, (6,), dtype=np.int8),
        "u8": rng.integers(0, 255, (2, 2), dtype=np.uint8),
        "bool": rng.integers(0, 2, (9,)).astype(np.bool_),
        "f8e4m3": rng.standard_normal((4,)).astype(ml_dtypes.float8_e4m3fn),
        "f8e5m2": rng.standard_normal((3,)).astype(ml_dtypes.float8_e5m2),
        "scalar": np.array(2.5, dtype=np.float32),
        "empty": np.zeros((0, 3), dtype=np.float32),
    }
    path = os.path.join(tmp, "reference.safetensors")
    save_file(tensors, path, metadata={"format": "np", "note": "written by safetensors"})
    report = json.loads(slim("inspect", "--model_path", path, "--tensors", "--json"))
    names = {"f64": "F64", "f32": "F32", "f16": "F16", "bf16": "BF16", "i64": "I64", "i32": "I32",
             "i16": "I16", "i8": "I8", "u8": "U8", "bool": "BOOL", "f8e4m3": "F8_E4M3",
             "f8e5m2": "F8_E5M2", "scalar": "F32", "empty": "F32"}
    listed = {entry["name"]: entry for entry in report["tensor_list"]}
    check(set(listed) == set(tensors), f"reference file: names {sorted(listed)}")
    for name, array in tensors.items():
        entry = listed[name]
        check(entry["dtype"] == names[name], f"{name}: dtype {entry['dtype']}")
        check(entry["shape"] == list(array.shape), f"{name}: shape {entry['shape']} != {array.shape}")
        if name.startswith("f8"):
            expected = float(array.view(np.uint8).astype(np.float64).sum())
        else:
            expected = float(array.astype(np.float64).sum())
        check(abs(entry["sum"] - expected) <= 1e-9 * max(1.0, abs(expected)),
              f"{name}: sum {entry['sum']} != {expected}")


with tempfile.TemporaryDirectory() as tmp:
    for dtype in ("bf16", "fp16", "fp32"):
        check_slim_written(tmp, dtype)
    check_reference_written(tmp)

if failures:
    print(f"{len(failures)} conformance check(s) failed")
    sys.exit(1)
print("safetensors conformance: all checks passed")
