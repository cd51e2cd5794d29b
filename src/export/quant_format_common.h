// Internal pieces shared by the quantized-checkpoint formats (ascendv1, compressed-tensors): the
// compressed-tensors int32 bit packing, the W8A8 deq_scale encoding, writing the savers' tensors
// (F8 included), and the copy of a model's config and tokenizer files (E4M3 bytes, E2M1 and int4
// packing are slim/quant/numerics.h's).
// Not a public header: src/export only (and its tests).
#pragma once

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include "slim/quant/scheme.h"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace slim::io {
class SafetensorsWriter;
}  // namespace slim::io

namespace slim::exporter::detail {

// --------------------------------------------------------------------------- int32 packing
// compressed-tensors pack_to_int32 (dense packing, as in 0.20.0; identical to the older layout
// for 4 and 8 bits): each value v (int8, in the signed range of `bits`) becomes v + 2^(bits-1);
// element j of each run of 32 / bits along `packed_dim` goes to bits [bits * j, bits * (j + 1))
// of one int32; the packed dim is padded with zeros to a multiple of 32 / bits.
at::Tensor pack_int32(const at::Tensor& codes, int bits, int packed_dim);
// The inverse; `unpacked_size` is the original length of the packed dim.
at::Tensor unpack_int32(const at::Tensor& packed, int bits, int64_t unpacked_size, int packed_dim);

// ------------------------------------------------------------------------------ deq_scale
// Spec §7.5: the fp32 bit pattern reinterpreted as int32 and sign-extended to int64.
at::Tensor deq_scale_to_int64(const at::Tensor& deq_scale_f32);
// The inverse: the low 32 bits reinterpreted as fp32.
at::Tensor deq_scale_from_int64(const at::Tensor& encoded);

// ------------------------------------------------------------------------- saver tensors
// The savers list each tensor with its safetensors dtype name. libtorch 1.13 has no float8 type,
// so an E4M3 tensor is its uint8 bytes (quant::e4m3_to_bytes) listed as "F8_E4M3".

// "BF16", "I8", ...: the safetensors dtype of the tensor's ATen type.
std::string safetensors_dtype(const at::Tensor& tensor);
// Writes a listed tensor: "F8_E4M3" bytes with that dtype, anything else as its ATen type.
void write_listed_tensor(io::SafetensorsWriter& writer, const std::string& name,
                         const std::string& dtype, const at::Tensor& tensor);

// -------------------------------------------------------------------------------- checks
// Every element of an fp32 tensor is an integer (zero-points must be, to be stored as ints).
bool all_integral(const at::Tensor& values);
// True when every element of `values` is zero (undefined counts as zero).
bool all_zero(const at::Tensor& values);

// --------------------------------------------------------------------------- records
// The FLOAT record of an unquantized linear (what a saver's add_float_linear writes), validated:
// the weight must be a floating [O, I] tensor, the bias [O].
quant::DeployedLinear float_linear_record(const std::string& module, const at::Tensor& weight,
                                          const std::optional<at::Tensor>& bias);

// ------------------------------------------------------------------------- model files
// Files of `model_path` (top level only) whose names end in one of `suffixes` and not in
// "index.json", sorted by name.
std::vector<std::string> model_files_to_copy(const std::string& model_path,
                                             const std::vector<std::string>& suffixes);
// Removes "quantization_config" from the top level and from "text_config"; returns whether
// anything was removed.
bool remove_quantization_config(nlohmann::ordered_json& config);
// The path of QuaRot's global rotation inside an output (spec §7.1), and the file itself: key
// `global_rotation`, fp32 [n, n], written below `directory` with mode `mode`.
extern const char* const kQuarotRotationFile;  // "optional/quarot.safetensors"
void write_global_rotation(const std::string& directory, const at::Tensor& rotation, int mode);
// Copies `source` to `destination` byte for byte and gives it mode `mode`.
void copy_file_with_mode(const std::string& source, const std::string& destination, int mode);
// Writes `contents` to `path` with mode `mode`.
void write_file_with_mode(const std::string& path, const std::string& contents, int mode);
// Writes each (name relative to `directory`, contents) with mode `mode`; a name that is absolute or
// climbs out ("..") is an error naming `who` (the saver).
void write_extra_files(const std::string& directory,
                       const std::vector<std::pair<std::string, std::string>>& files, int mode,
                       const std::string& who);
// Every regular file under `directory`, as relative paths, sorted (what a saver reports).
std::vector<std::string> files_under(const std::string& directory);

// config.json's "dtype" / "torch_dtype" as an ATen type, nullopt when absent or unknown.
std::optional<at::ScalarType> config_torch_dtype(const nlohmann::json& config);

}  // namespace slim::exporter::detail
