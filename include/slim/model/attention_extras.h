// The KV-cache and FA3 quantization a saved output declares (Ascend V1 §7.7: `C8` and `FAQuant`
// tensors, slim/model/weight_source.h AttentionExtras), applied as an engine applies it: keys and
// values stored int8 per channel in the cache (fake-quantized with the stored scale and offset
// before the attention product), and queries / keys / values quantized per head for FA3 (int8
// when the stored offset is int8, FP8 E4M3 when it is floating point).
#pragma once

#include <memory>

#include "slim/model/decoder.h"
#include "slim/model/weight_source.h"

namespace slim::model {

// nullptr when `extras` is empty. Throws slim::Error naming the tensor for a shape that does not
// fit the layer's heads, or tensors it does not know.
std::shared_ptr<AttentionHook> attention_extras_hook(const AttentionExtras& extras,
                                                     const std::string& layer_prefix, int64_t heads,
                                                     int64_t kv_heads, int64_t head_dim);

}  // namespace slim::model
