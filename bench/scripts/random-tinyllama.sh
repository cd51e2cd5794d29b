# Sourced by the bench scripts: writes the ~1.1B-parameter random Llama with TinyLlama-1.1B's
# geometry (hidden 2048, intermediate 5632, 22 layers, 32 heads, 4 KV heads, vocabulary 32000;
# bf16, 2.2 GB in two shards) into DIR once, with `$SLIM random-model`.
#
#   random_tinyllama DIR
random_tinyllama() {
  local dir=$1
  [ -f "$dir/config.json" ] && return 0
  "$SLIM" random-model --arch LlamaForCausalLM --hidden_size 2048 --intermediate_size 5632 \
    --num_hidden_layers 22 --num_attention_heads 32 --num_key_value_heads 4 --vocab_size 32000 \
    --dtype bf16 --shard_size 2GB --save_path "$dir" >/dev/null
}
