// KV-cache int8 (C8) and FA3 per-head (FAQuant) tensors of a saved Ascend V1 output are applied
// by the runtime as an engine applies them: checked against the same fake quantization written
// here with plain ATen (round half to even, clamp), and refused when they do not fit the layer.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "slim/export/ascendv1.h"
#include "slim/io/safetensors.h"
#include "slim/model/attention_extras.h"
#include "slim/model/causal_lm.h"
#include "slim/model/random_model.h"
#include "support/expect_error.h"
#include "support/temp_dir.h"

namespace {

using namespace slim;
using slim::testing::TempDir;

at::Tensor fake_int8(const at::Tensor& x, const at::Tensor& scale, const at::Tensor& offset) {
  return (at::clamp(at::round(x / scale + offset), -128, 127) - offset) * scale;
}

// The reference: per channel of [B, S, Hkv*D] for the cache, per head for FA.
struct Reference : model::AttentionHook {
  at::Tensor k_scale, k_offset, v_scale, v_offset, q_head_scale;
  void on_states(const model::DecoderLayer&, at::Tensor& q, at::Tensor& k, at::Tensor& v) override {
    q = fake_int8(q, q_head_scale.view({1, -1, 1, 1}), at::zeros({1}));
    auto channel = [](const at::Tensor& x, const at::Tensor& s, const at::Tensor& z) {
      const auto b = x.size(0), h = x.size(1), t = x.size(2), d = x.size(3);
      const at::Tensor rows = x.transpose(1, 2).reshape({b, t, h * d});
      return fake_int8(rows, s, z).view({b, t, h, d}).transpose(1, 2);
    };
    k = channel(k, k_scale, k_offset);
    v = channel(v, v_scale, v_offset);
  }
};

TEST(AttentionExtras, KvCacheAndFa3TensorsRunAsTheirFakeQuantization) {
  TempDir dir;
  model::RandomModelOptions options;
  options.dtype = c10::kFloat;
  options.vocab_size = 260;
  write_random_model(options, dir.file("src"));
  const auto checkpoint = io::SafetensorsCheckpoint::open(dir.file("src"));
  exporter::AscendV1SaveOptions save;
  save.save_path = dir.file("out");
  save.model_path = dir.file("src");
  exporter::AscendV1Saver saver(save);
  for (const auto& name : checkpoint.names())
    saver.add_float(name, checkpoint.tensor(name));
  auto reference = std::make_shared<Reference>();
  const int64_t kv = 2 * 16;  // kv heads x head_dim
  reference->k_scale = at::linspace(0.004, 0.02, kv);
  reference->k_offset = at::round(at::linspace(-3, 3, kv));
  reference->v_scale = at::full({kv}, 0.01);
  reference->v_offset = at::zeros({kv});
  reference->q_head_scale = at::tensor({0.01f, 0.02f, 0.015f, 0.03f});
  for (int layer = 0; layer < 2; ++layer) {
    const std::string attn = "model.layers." + std::to_string(layer) + ".self_attn";
    saver.add_extra(attn + ".k_proj.kv_cache_scale", reference->k_scale, "C8");
    saver.add_extra(attn + ".k_proj.kv_cache_offset", reference->k_offset, "C8");
    saver.add_extra(attn + ".v_proj.kv_cache_scale", reference->v_scale, "C8");
    saver.add_extra(attn + ".v_proj.kv_cache_offset", reference->v_offset, "C8");
    saver.add_extra(attn + ".fa_q.scale", reference->q_head_scale.view({4, 1}), "FAQuant");
    saver.add_extra(attn + ".fa_q.offset", at::zeros({4, 1}, at::kChar), "FAQuant");
  }
  saver.finish();

  const auto saved = model::CausalLM::open(dir.file("out"));
  const auto plain = model::CausalLM::open(dir.file("src"));
  at::manual_seed(2);
  const at::Tensor ids = at::randint(0, 260, {2, 12}, at::kLong);
  auto context = plain->make_context(2, 12);
  at::Tensor hidden = plain->embed(ids);
  for (int64_t k = 0; k < 2; ++k) {
    model::DecoderLayer layer = plain->load_layer(k);
    layer.add_attention_hook(reference);
    hidden = plain->run_layer(layer, hidden, context);
  }
  const at::Tensor expected = plain->head(hidden);
  const at::Tensor ours = saved->forward(ids);
  EXPECT_LT((ours - expected).abs().max().item<double>(), 1e-5);
  EXPECT_GT((ours - plain->forward(ids)).abs().max().item<double>(), 1e-4);  // it did something
  // clear_hooks keeps what the output declares.
  model::DecoderLayer layer = saved->load_layer(0);
  layer.clear_hooks();
  EXPECT_NE(layer.stored_attention(), nullptr);
}

TEST(AttentionExtras, TensorsThatDoNotFitAreNamed) {
  model::AttentionExtras extras;
  const std::string attn = "model.layers.0.self_attn";
  extras.tensors[attn + ".k_proj.kv_cache_scale"] = at::ones({31});
  extras.tensors[attn + ".k_proj.kv_cache_offset"] = at::zeros({31});
  EXPECT_ERROR_WITH(model::attention_extras_hook(extras, "model.layers.0.", 4, 2, 16),
                    "kv_cache_scale", "31", "32");
  extras.tensors.clear();
  extras.tensors[attn + ".fa_q.scale"] = at::ones({4, 1});
  EXPECT_ERROR_WITH(model::attention_extras_hook(extras, "model.layers.0.", 4, 2, 16),
                    "fa_q.offset", "missing");
  extras.tensors[attn + ".fa_q.offset"] = at::zeros({4, 1});
  extras.tensors[attn + ".fa_x.scale"] = at::ones({4, 1});
  EXPECT_ERROR_WITH(model::attention_extras_hook(extras, "model.layers.0.", 4, 2, 16), "fa_x");
  EXPECT_EQ(model::attention_extras_hook({}, "model.layers.0.", 4, 2, 16), nullptr);
}

}  // namespace
