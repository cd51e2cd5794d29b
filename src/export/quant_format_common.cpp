#include "export/quant_format_common.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "slim/core/error.h"
#include "slim/core/files.h"

namespace slim::exporter::detail {

namespace fs = std::filesystem;

namespace {

uint32_t float_bits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

float bits_float(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

// The E4M3 byte of `value`, or -1 when it is not exactly representable.
int e4m3_code(float value) {
  const uint32_t bits = float_bits(value);
  const int sign = static_cast<int>(bits >> 31) << 7;
  if (!std::isfinite(value)) return -1;
  const float magnitude = std::fabs(value);
  if (magnitude == 0.0f) return sign;
  if (magnitude > 448.0f) return -1;
  const int exponent = static_cast<int>((bits >> 23) & 0xFF) - 127;
  const uint32_t mantissa = bits & 0x7FFFFF;
  if (exponent >= -6) {
    if ((mantissa & ((1u << 20) - 1)) != 0) return -1;
    return sign | ((exponent + 7) << 3) | static_cast<int>(mantissa >> 20);
  }
  // Subnormal E4M3: k * 2^-9, k in 1..7 (exact in fp32).
  const float k = magnitude * 512.0f;
  if (k != std::floor(k) || k < 1.0f || k > 7.0f) return -1;
  return sign | static_cast<int>(k);
}

float e4m3_value(uint8_t code) {
  const int exponent = (code >> 3) & 0xF;
  const int mantissa = code & 7;
  const float sign = (code & 0x80) ? -1.0f : 1.0f;
  if (exponent == 15 && mantissa == 7) return std::numeric_limits<float>::quiet_NaN();
  if (exponent == 0) return sign * std::ldexp(static_cast<float>(mantissa), -9);
  return sign * std::ldexp(1.0f + static_cast<float>(mantissa) / 8.0f, exponent - 7);
}

constexpr std::array<float, 8> kE2M1 = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};

int e2m1_code(float value) {
  const float magnitude = std::fabs(value);
  for (int i = 0; i < 8; ++i) {
    if (magnitude == kE2M1[i]) return i | (std::signbit(value) ? 8 : 0);
  }
  return -1;
}

std::string index_text(int64_t flat, const at::Tensor& shape_of) {
  if (shape_of.dim() == 2) {
    return str("[", flat / shape_of.size(1), ", ", flat % shape_of.size(1), "]");
  }
  return str("[", flat, "]");
}

// First element index where `bad` holds, or -1.
template <typename Bad>
int64_t first_bad(int64_t count, Bad bad) {
  std::atomic<int64_t> first{-1};
  at::parallel_for(0, count, 1 << 16, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      if (bad(i)) {
        int64_t expected = first.load();
        while ((expected < 0 || i < expected) && !first.compare_exchange_weak(expected, i)) {
        }
        return;
      }
    }
  });
  return first.load();
}

}  // namespace

at::Tensor encode_e4m3(const at::Tensor& values, const std::string& what) {
  SLIM_INTERNAL_ASSERT(values.scalar_type() == at::kFloat, "encode_e4m3 wants fp32");
  const at::Tensor input = values.contiguous();
  at::Tensor out = at::empty(input.sizes(), input.options().dtype(at::kByte));
  const float* source = input.data_ptr<float>();
  uint8_t* target = out.data_ptr<uint8_t>();
  const int64_t bad = first_bad(input.numel(), [&](int64_t i) {
    const int code = e4m3_code(source[i]);
    if (code < 0) return true;
    target[i] = static_cast<uint8_t>(code);
    return false;
  });
  SLIM_CHECK(bad < 0, what, ": element ", index_text(bad, input), " = ",
             bad < 0 ? 0.0f : source[bad],
             " is not a float8_e4m3fn value (finite, |v| <= 448, on the E4M3 grid)");
  return out;
}

at::Tensor decode_e4m3(const at::Tensor& bytes) {
  SLIM_INTERNAL_ASSERT(bytes.scalar_type() == at::kByte, "decode_e4m3 wants uint8");
  const at::Tensor input = bytes.contiguous();
  at::Tensor out = at::empty(input.sizes(), input.options().dtype(at::kFloat));
  std::array<float, 256> table;
  for (int code = 0; code < 256; ++code)
    table[code] = e4m3_value(static_cast<uint8_t>(code));
  const uint8_t* source = input.data_ptr<uint8_t>();
  float* target = out.data_ptr<float>();
  at::parallel_for(0, input.numel(), 1 << 16, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      target[i] = table[source[i]];
  });
  return out;
}

at::Tensor pack_e2m1(const at::Tensor& values, const std::string& what) {
  SLIM_INTERNAL_ASSERT(values.scalar_type() == at::kFloat && values.dim() == 2,
                       "pack_e2m1 wants fp32 [O, I]");
  SLIM_CHECK(values.size(1) % 2 == 0, what,
             ": E2M1 packs two values per byte along the input dim, ", "which must be even; found ",
             values.size(1));
  const at::Tensor input = values.contiguous();
  at::Tensor out = at::empty({input.size(0), input.size(1) / 2}, input.options().dtype(at::kByte));
  const float* source = input.data_ptr<float>();
  uint8_t* target = out.data_ptr<uint8_t>();
  const int64_t bad = first_bad(out.numel(), [&](int64_t k) {
    const int low = e2m1_code(source[2 * k]);
    const int high = e2m1_code(source[2 * k + 1]);
    if (low < 0 || high < 0) return true;
    target[k] = static_cast<uint8_t>(low | (high << 4));
    return false;
  });
  if (bad >= 0) {
    const int64_t flat = e2m1_code(source[2 * bad]) < 0 ? 2 * bad : 2 * bad + 1;
    SLIM_FAIL(what, ": element ", index_text(flat, input), " = ", source[flat],
              " is not an E2M1 value (0, 0.5, 1, 1.5, 2, 3, 4, 6 with a sign)");
  }
  return out;
}

at::Tensor unpack_e2m1(const at::Tensor& packed) {
  SLIM_INTERNAL_ASSERT(packed.scalar_type() == at::kByte && packed.dim() == 2,
                       "unpack_e2m1 wants uint8 [O, I / 2]");
  const at::Tensor input = packed.contiguous();
  at::Tensor out = at::empty({input.size(0), input.size(1) * 2}, input.options().dtype(at::kFloat));
  const uint8_t* source = input.data_ptr<uint8_t>();
  float* target = out.data_ptr<float>();
  const auto value = [](int code) {
    const float magnitude = kE2M1[code & 7];
    return (code & 8) ? -magnitude : magnitude;
  };
  at::parallel_for(0, input.numel(), 1 << 16, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) {
      target[2 * k] = value(source[k] & 0xF);
      target[2 * k + 1] = value(source[k] >> 4);
    }
  });
  return out;
}

at::Tensor pack_int4_pairs_along_rows(const at::Tensor& codes) {
  SLIM_INTERNAL_ASSERT(
      codes.scalar_type() == at::kChar && codes.dim() == 2 && codes.size(0) % 2 == 0,
      "pack_int4_pairs_along_rows wants int8 [even, I]");
  const int64_t rows = codes.size(0) / 2;
  const at::Tensor low = codes.slice(0, 0, codes.size(0), 2).to(at::kInt);
  const at::Tensor high = codes.slice(0, 1, codes.size(0), 2).to(at::kInt);
  // (high << 4) | (low & 0xF) as a signed byte: high * 16 + (low & 15) lies in [-128, 127].
  at::Tensor packed = (high * 16 + low.bitwise_and(15)).to(at::kChar).contiguous();
  SLIM_INTERNAL_ASSERT(packed.size(0) == rows, "int4 packing shape");
  return packed;
}

at::Tensor unpack_int4_pairs_along_rows(const at::Tensor& packed) {
  SLIM_INTERNAL_ASSERT(packed.scalar_type() == at::kChar && packed.dim() == 2,
                       "unpack_int4_pairs_along_rows wants int8 [O / 2, I]");
  const at::Tensor bytes = packed.to(at::kInt);
  const at::Tensor high = at::div(bytes, 16, "floor");  // arithmetic shift right by 4
  at::Tensor low = bytes - high * 16;                   // the low nibble, 0..15
  low = at::where(low > 7, low - 16, low);
  return at::stack({low, high}, 1).reshape({packed.size(0) * 2, packed.size(1)}).to(at::kChar);
}

at::Tensor pack_int32(const at::Tensor& codes, int bits, int packed_dim) {
  SLIM_INTERNAL_ASSERT(codes.scalar_type() == at::kChar && codes.dim() == 2,
                       "pack_int32 wants int8 2-D");
  SLIM_INTERNAL_ASSERT(bits == 4 || bits == 8, "pack_int32: 4 or 8 bits");
  SLIM_INTERNAL_ASSERT(packed_dim == 0 || packed_dim == 1, "pack_int32: dim 0 or 1");
  const at::Tensor source = (packed_dim == 0 ? codes.t() : codes).contiguous();
  const int64_t rows = source.size(0);
  const int64_t cols = source.size(1);
  const int per_word = 32 / bits;
  const int64_t words = (cols + per_word - 1) / per_word;
  const uint32_t mask = (1u << bits) - 1;
  const int32_t offset = 1 << (bits - 1);
  at::Tensor out = at::empty({rows, words}, codes.options().dtype(at::kInt));
  const int8_t* in = source.data_ptr<int8_t>();
  int32_t* target = out.data_ptr<int32_t>();
  at::parallel_for(0, rows, 64, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      for (int64_t w = 0; w < words; ++w) {
        uint32_t word = 0;
        for (int j = 0; j < per_word; ++j) {
          const int64_t c = w * per_word + j;
          if (c >= cols) break;
          const uint32_t value = static_cast<uint32_t>(in[r * cols + c] + offset) & mask;
          word |= value << (bits * j);
        }
        std::memcpy(&target[r * words + w], &word, sizeof word);
      }
    }
  });
  return packed_dim == 0 ? out.t().contiguous() : out;
}

at::Tensor unpack_int32(const at::Tensor& packed, int bits, int64_t unpacked_size, int packed_dim) {
  SLIM_INTERNAL_ASSERT(packed.scalar_type() == at::kInt && packed.dim() == 2,
                       "unpack_int32 wants int32 2-D");
  SLIM_INTERNAL_ASSERT(bits == 4 || bits == 8, "unpack_int32: 4 or 8 bits");
  const at::Tensor source = (packed_dim == 0 ? packed.t() : packed).contiguous();
  const int64_t rows = source.size(0);
  const int64_t words = source.size(1);
  const int per_word = 32 / bits;
  SLIM_INTERNAL_ASSERT(unpacked_size <= words * per_word && unpacked_size > (words - 1) * per_word,
                       "unpack_int32: size ", unpacked_size, " does not fit ", words, " words");
  const uint32_t mask = (1u << bits) - 1;
  const int32_t offset = 1 << (bits - 1);
  at::Tensor out = at::empty({rows, unpacked_size}, packed.options().dtype(at::kChar));
  const int32_t* in = source.data_ptr<int32_t>();
  int8_t* target = out.data_ptr<int8_t>();
  at::parallel_for(0, rows, 64, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      for (int64_t c = 0; c < unpacked_size; ++c) {
        uint32_t word;
        std::memcpy(&word, &in[r * words + c / per_word], sizeof word);
        const int32_t value = static_cast<int32_t>((word >> (bits * (c % per_word))) & mask);
        target[r * unpacked_size + c] = static_cast<int8_t>(value - offset);
      }
    }
  });
  return packed_dim == 0 ? out.t().contiguous() : out;
}

at::Tensor deq_scale_to_int64(const at::Tensor& deq_scale_f32) {
  SLIM_INTERNAL_ASSERT(deq_scale_f32.scalar_type() == at::kFloat, "deq_scale must be fp32");
  const at::Tensor input = deq_scale_f32.contiguous();
  at::Tensor out = at::empty(input.sizes(), input.options().dtype(at::kLong));
  const float* source = input.data_ptr<float>();
  int64_t* target = out.data_ptr<int64_t>();
  for (int64_t i = 0; i < input.numel(); ++i) {
    int32_t pattern;
    std::memcpy(&pattern, &source[i], sizeof pattern);
    target[i] = static_cast<int64_t>(pattern);  // sign extension
  }
  return out;
}

at::Tensor deq_scale_from_int64(const at::Tensor& encoded) {
  SLIM_INTERNAL_ASSERT(encoded.scalar_type() == at::kLong, "encoded deq_scale must be int64");
  const at::Tensor input = encoded.contiguous();
  at::Tensor out = at::empty(input.sizes(), input.options().dtype(at::kFloat));
  const int64_t* source = input.data_ptr<int64_t>();
  float* target = out.data_ptr<float>();
  for (int64_t i = 0; i < input.numel(); ++i) {
    target[i] = bits_float(static_cast<uint32_t>(static_cast<uint64_t>(source[i]) & 0xFFFFFFFFu));
  }
  return out;
}

bool all_integral(const at::Tensor& values) {
  if (!values.defined() || values.numel() == 0) return true;
  const at::Tensor as_double = values.to(at::kDouble);
  return at::equal(as_double, at::round(as_double));
}

bool all_zero(const at::Tensor& values) {
  return !values.defined() || values.numel() == 0 || !values.ne(0).any().item<bool>();
}

std::vector<std::string> model_files_to_copy(const std::string& model_path,
                                             const std::vector<std::string>& suffixes) {
  SLIM_CHECK(fs::is_directory(model_path), model_path,
             ": model directory (for config and tokenizer files) does not exist");
  const auto ends_with = [](const std::string& text, const std::string& suffix) {
    return text.size() >= suffix.size() &&
           text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(model_path)) {
    if (!entry.is_regular_file()) continue;
    const std::string name = entry.path().filename().string();
    if (ends_with(name, "index.json")) continue;
    if (std::any_of(suffixes.begin(), suffixes.end(),
                    [&](const std::string& suffix) { return ends_with(name, suffix); })) {
      names.push_back(name);
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

bool remove_quantization_config(nlohmann::ordered_json& config) {
  bool removed = false;
  if (config.is_object() && config.contains("quantization_config")) {
    config.erase("quantization_config");
    removed = true;
  }
  if (config.is_object() && config.contains("text_config") && config["text_config"].is_object() &&
      config["text_config"].contains("quantization_config")) {
    config["text_config"].erase("quantization_config");
    removed = true;
  }
  return removed;
}

void copy_file_with_mode(const std::string& source, const std::string& destination, int mode) {
  std::error_code error;
  fs::copy_file(source, destination, fs::copy_options::overwrite_existing, error);
  SLIM_CHECK(!error, source, ": cannot copy to ", destination, ": ", error.message());
  SLIM_CHECK(::chmod(destination.c_str(), static_cast<mode_t>(mode)) == 0, destination,
             ": chmod failed: ", std::strerror(errno));
}

void write_file_with_mode(const std::string& path, const std::string& contents, int mode) {
  write_file(path, contents);
  SLIM_CHECK(::chmod(path.c_str(), static_cast<mode_t>(mode)) == 0, path,
             ": chmod failed: ", std::strerror(errno));
}

std::optional<at::ScalarType> parse_torch_dtype_name(const std::string& name) {
  if (name == "bfloat16") return at::kBFloat16;
  if (name == "float16" || name == "half") return at::kHalf;
  if (name == "float32" || name == "float") return at::kFloat;
  return std::nullopt;
}

std::optional<at::ScalarType> config_torch_dtype(const nlohmann::json& config) {
  for (const char* key : {"dtype", "torch_dtype"}) {
    if (config.is_object() && config.contains(key) && config[key].is_string()) {
      std::string name = config[key].get<std::string>();
      if (name.rfind("torch.", 0) == 0) name = name.substr(6);
      return parse_torch_dtype_name(name);
    }
  }
  return std::nullopt;
}

}  // namespace slim::exporter::detail
