#include "slim/model/attention_extras.h"

#include <ATen/ATen.h>

#include <set>

#include "slim/core/error.h"
#include "slim/model/family.h"
#include "slim/quant/numerics.h"

namespace slim::model {

namespace {

struct Params {
  at::Tensor scale;
  at::Tensor offset;
  bool defined() const { return scale.defined(); }
};

class ExtrasHook : public AttentionHook {
 public:
  Params kv_cache_k, kv_cache_v;  // [Hkv * D]
  Params fa_q, fa_k, fa_v;        // [H, 1]

  void on_states(const DecoderLayer& layer, at::Tensor& q, at::Tensor& k, at::Tensor& v) override {
    if (fa_q.defined()) q = per_head(layer.prefix + "fa_q", q, fa_q);
    if (fa_k.defined()) k = per_head(layer.prefix + "fa_k", k, fa_k);
    if (fa_v.defined()) v = per_head(layer.prefix + "fa_v", v, fa_v);
    if (kv_cache_k.defined()) k = per_channel(layer.prefix + "k cache", k, kv_cache_k);
    if (kv_cache_v.defined()) v = per_channel(layer.prefix + "v cache", v, kv_cache_v);
  }

 private:
  // [B, H, S, D] -> [B * S, H * D], fake-quantized per channel (msModelSlim's dynamic_cache).
  static at::Tensor per_channel(const std::string& name, const at::Tensor& x, const Params& p) {
    const auto b = x.size(0), h = x.size(1), s = x.size(2), d = x.size(3);
    const at::Tensor rows = x.transpose(1, 2).reshape({b * s, h * d});
    const quant::QParams params{{quant::QDtype::Int8, quant::QScope::PerChannel, false, 0},
                                p.scale.to(x.device()),
                                p.offset.to(x.device())};
    return quant::fake_quantize(name, rows, params).view({b, s, h, d}).transpose(1, 2);
  }

  // Per head, static: int8 with an int8 offset, FP8 E4M3 with a floating one.
  static at::Tensor per_head(const std::string& name, const at::Tensor& x, const Params& p) {
    const bool fp8 = at::isFloatingType(p.offset.scalar_type());
    const quant::QParams params{
        {fp8 ? quant::QDtype::Fp8E4M3 : quant::QDtype::Int8, quant::QScope::PerHead, true, 0},
        p.scale.to(x.device(), at::kFloat).view({-1, 1, 1}),
        p.offset.to(x.device(), at::kFloat).view({-1, 1, 1})};
    return quant::fake_quantize(name, x, params);
  }
};

Params take(const AttentionExtras& extras, const std::string& base, const char* scale_suffix,
            const char* offset_suffix, int64_t expected, std::set<std::string>& used) {
  const auto scale = extras.tensors.find(base + scale_suffix);
  if (scale == extras.tensors.end()) return {};
  const auto offset = extras.tensors.find(base + offset_suffix);
  SLIM_CHECK(offset != extras.tensors.end(), "tensor ", quote(base + offset_suffix),
             " is missing (", quote(base + scale_suffix), " is present)");
  for (const auto* entry : {&*scale, &*offset}) {
    SLIM_CHECK(entry->second.numel() == expected, "tensor ", quote(entry->first), " has ",
               entry->second.numel(), " values, the layer needs ", expected);
    used.insert(entry->first);
  }
  return {scale->second.reshape({-1}), offset->second.reshape({-1})};
}

}  // namespace

std::shared_ptr<AttentionHook> attention_extras_hook(const AttentionExtras& extras,
                                                     const std::string& prefix, int64_t heads,
                                                     int64_t kv_heads, int64_t head_dim) {
  if (extras.empty()) return nullptr;
  // The tensors hang off the attention module: "<prefix><attn>.k_proj.kv_cache_scale",
  // "<prefix><attn>.fa_q.scale"; the attention module's name is whatever precedes the suffix.
  std::string attn;
  for (const auto& [name, tensor] : extras.tensors) {
    for (const char* suffix : {".k_proj.kv_cache_scale", ".fa_q.scale", ".fa_k.scale"}) {
      const std::string s = suffix;
      if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0)
        attn = name.substr(0, name.size() - s.size());
    }
  }
  SLIM_CHECK(!attn.empty(), "attention extras of ", prefix, " name no known tensor (",
             extras.tensors.begin()->first, ")");
  auto hook = std::make_shared<ExtrasHook>();
  std::set<std::string> used;
  hook->kv_cache_k = take(extras, attn + ".k_proj", ".kv_cache_scale", ".kv_cache_offset",
                          kv_heads * head_dim, used);
  hook->kv_cache_v = take(extras, attn + ".v_proj", ".kv_cache_scale", ".kv_cache_offset",
                          kv_heads * head_dim, used);
  hook->fa_q = take(extras, attn + ".fa_q", ".scale", ".offset", heads, used);
  hook->fa_k = take(extras, attn + ".fa_k", ".scale", ".offset", kv_heads, used);
  hook->fa_v = take(extras, attn + ".fa_v", ".scale", ".offset", kv_heads, used);
  for (const auto& [name, tensor] : extras.tensors)
    SLIM_CHECK(used.count(name), "tensor ", quote(name), " is not a KV-cache or FA3 parameter ",
               "Slim can apply");
  return hook;
}

}  // namespace slim::model
