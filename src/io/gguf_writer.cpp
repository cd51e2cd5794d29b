#include "slim/io/gguf_writer.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>
#include <optional>

#include "slim/core/error.h"
#include "slim/core/text.h"

namespace slim::io {

namespace fs = std::filesystem;

namespace {

constexpr uint32_t kVersion = 3;
constexpr size_t kMaxDims = 4;  // GGML_MAX_DIMS
constexpr size_t kBufferBytes = 4 << 20;

void append_le(std::string& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i)
    out.push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
}

void append_string(std::string& out, const std::string& text) {
  append_le(out, text.size(), 8);
  out += text;
}

template <typename Float, typename Bits>
Bits float_bits(Float value) {
  static_assert(sizeof(Float) == sizeof(Bits));
  Bits bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return bits;
}

// Range of an integer metadata type, for set_array_int.
bool fits(GgufType type, int64_t value) {
  switch (type) {
    case GgufType::UINT8:
      return value >= 0 && value <= std::numeric_limits<uint8_t>::max();
    case GgufType::INT8:
      return value >= std::numeric_limits<int8_t>::min() &&
             value <= std::numeric_limits<int8_t>::max();
    case GgufType::UINT16:
      return value >= 0 && value <= std::numeric_limits<uint16_t>::max();
    case GgufType::INT16:
      return value >= std::numeric_limits<int16_t>::min() &&
             value <= std::numeric_limits<int16_t>::max();
    case GgufType::UINT32:
      return value >= 0 && value <= std::numeric_limits<uint32_t>::max();
    case GgufType::INT32:
      return value >= std::numeric_limits<int32_t>::min() &&
             value <= std::numeric_limits<int32_t>::max();
    case GgufType::UINT64:
      return value >= 0;
    case GgufType::INT64:
      return true;
    default:
      return false;
  }
}

// The ATen dtype a plain ggml type stores, for write_tensor.
std::optional<at::ScalarType> scalar_type_of(GgmlType type) {
  switch (type) {
    case GgmlType::F32:
      return at::kFloat;
    case GgmlType::F16:
      return at::kHalf;
    case GgmlType::BF16:
      return at::kBFloat16;
    case GgmlType::F64:
      return at::kDouble;
    case GgmlType::I8:
      return at::kChar;
    case GgmlType::I16:
      return at::kShort;
    case GgmlType::I32:
      return at::kInt;
    case GgmlType::I64:
      return at::kLong;
    default:
      return std::nullopt;
  }
}

uint64_t align_up(uint64_t value, uint64_t alignment) {
  return (value + alignment - 1) / alignment * alignment;
}

}  // namespace

GgufWriter::GgufWriter(std::string path, GgufWriterOptions options)
    : path_(std::move(path)), options_(options) {
  SLIM_CHECK(!path_.empty(), "GGUF output path is empty");
  SLIM_CHECK(options_.alignment != 0 && (options_.alignment & (options_.alignment - 1)) == 0, path_,
             ": GGUF alignment ", options_.alignment, " is not a power of two");
  std::error_code error;
  const fs::path target(path_);
  SLIM_CHECK(!fs::is_directory(target, error), path_, ": is a directory, expected a file path");
  SLIM_CHECK(options_.overwrite || !fs::exists(target, error), path_,
             ": output file exists (pass --overwrite to replace it)");
  set_u32("general.alignment", options_.alignment);
}

GgufWriter::~GgufWriter() {
  if (!finished_) remove_temporary();
}

void GgufWriter::remove_temporary() noexcept {
  if (file_ != nullptr) {
    std::fclose(file_);
    file_ = nullptr;
  }
  if (!temp_path_.empty()) {
    std::error_code ignored;
    fs::remove(temp_path_, ignored);
  }
}

void GgufWriter::check_open_for_definitions(const char* what) const {
  SLIM_INTERNAL_ASSERT(!header_written_, path_, ": ", what, " after the GGUF header was written");
}

// ------------------------------------------------------------------------------- metadata

void GgufWriter::begin_kv(const std::string& key, GgufType type) {
  check_open_for_definitions("metadata");
  SLIM_CHECK(!key.empty(), path_, ": empty GGUF metadata key");
  SLIM_CHECK(keys_.insert(key).second, path_, ": GGUF metadata key ", quote(key), " set twice");
  append_string(metadata_, key);
  append_le(metadata_, static_cast<uint32_t>(type), 4);
  ++kv_count_;
}

void GgufWriter::set_u8(const std::string& key, uint8_t value) {
  begin_kv(key, GgufType::UINT8);
  append_le(metadata_, value, 1);
}
void GgufWriter::set_i8(const std::string& key, int8_t value) {
  begin_kv(key, GgufType::INT8);
  append_le(metadata_, static_cast<uint8_t>(value), 1);
}
void GgufWriter::set_u16(const std::string& key, uint16_t value) {
  begin_kv(key, GgufType::UINT16);
  append_le(metadata_, value, 2);
}
void GgufWriter::set_i16(const std::string& key, int16_t value) {
  begin_kv(key, GgufType::INT16);
  append_le(metadata_, static_cast<uint16_t>(value), 2);
}
void GgufWriter::set_u32(const std::string& key, uint32_t value) {
  begin_kv(key, GgufType::UINT32);
  append_le(metadata_, value, 4);
}
void GgufWriter::set_i32(const std::string& key, int32_t value) {
  begin_kv(key, GgufType::INT32);
  append_le(metadata_, static_cast<uint32_t>(value), 4);
}
void GgufWriter::set_u64(const std::string& key, uint64_t value) {
  begin_kv(key, GgufType::UINT64);
  append_le(metadata_, value, 8);
}
void GgufWriter::set_i64(const std::string& key, int64_t value) {
  begin_kv(key, GgufType::INT64);
  append_le(metadata_, static_cast<uint64_t>(value), 8);
}
void GgufWriter::set_f32(const std::string& key, float value) {
  begin_kv(key, GgufType::FLOAT32);
  append_le(metadata_, float_bits<float, uint32_t>(value), 4);
}
void GgufWriter::set_f64(const std::string& key, double value) {
  begin_kv(key, GgufType::FLOAT64);
  append_le(metadata_, float_bits<double, uint64_t>(value), 8);
}
void GgufWriter::set_bool(const std::string& key, bool value) {
  begin_kv(key, GgufType::BOOL);
  append_le(metadata_, value ? 1 : 0, 1);
}
void GgufWriter::set_string(const std::string& key, const std::string& value) {
  begin_kv(key, GgufType::STRING);
  append_string(metadata_, value);
}

void GgufWriter::set_array_int(const std::string& key, GgufType element,
                               const std::vector<int64_t>& values) {
  const int bytes = static_cast<int>(gguf_value_size(element));
  const bool integer = bytes != 0 && element != GgufType::BOOL && element != GgufType::FLOAT32 &&
                       element != GgufType::FLOAT64;
  SLIM_INTERNAL_ASSERT(integer, "set_array_int with element type ", gguf_type_name(element));
  for (size_t i = 0; i < values.size(); ++i) {
    SLIM_CHECK(fits(element, values[i]), path_, ": GGUF metadata key ", quote(key), ": element ", i,
               " (", values[i], ") does not fit ", gguf_type_name(element));
  }
  begin_kv(key, GgufType::ARRAY);
  append_le(metadata_, static_cast<uint32_t>(element), 4);
  append_le(metadata_, values.size(), 8);
  for (int64_t value : values)
    append_le(metadata_, static_cast<uint64_t>(value), bytes);
}

void GgufWriter::set_array_u8(const std::string& key, const std::vector<uint8_t>& values) {
  begin_kv(key, GgufType::ARRAY);
  append_le(metadata_, static_cast<uint32_t>(GgufType::UINT8), 4);
  append_le(metadata_, values.size(), 8);
  metadata_.append(reinterpret_cast<const char*>(values.data()), values.size());
}

void GgufWriter::set_array_i32(const std::string& key, const std::vector<int32_t>& values) {
  begin_kv(key, GgufType::ARRAY);
  append_le(metadata_, static_cast<uint32_t>(GgufType::INT32), 4);
  append_le(metadata_, values.size(), 8);
  for (int32_t value : values)
    append_le(metadata_, static_cast<uint32_t>(value), 4);
}

void GgufWriter::set_array_f32(const std::string& key, const std::vector<float>& values) {
  begin_kv(key, GgufType::ARRAY);
  append_le(metadata_, static_cast<uint32_t>(GgufType::FLOAT32), 4);
  append_le(metadata_, values.size(), 8);
  for (float value : values)
    append_le(metadata_, float_bits<float, uint32_t>(value), 4);
}

void GgufWriter::set_array_f64(const std::string& key, const std::vector<double>& values) {
  begin_kv(key, GgufType::ARRAY);
  append_le(metadata_, static_cast<uint32_t>(GgufType::FLOAT64), 4);
  append_le(metadata_, values.size(), 8);
  for (double value : values)
    append_le(metadata_, float_bits<double, uint64_t>(value), 8);
}

void GgufWriter::set_array_bool(const std::string& key, const std::vector<bool>& values) {
  begin_kv(key, GgufType::ARRAY);
  append_le(metadata_, static_cast<uint32_t>(GgufType::BOOL), 4);
  append_le(metadata_, values.size(), 8);
  for (bool value : values)
    append_le(metadata_, value ? 1 : 0, 1);
}

void GgufWriter::set_array_strings(const std::string& key, const std::vector<std::string>& values) {
  begin_kv(key, GgufType::ARRAY);
  append_le(metadata_, static_cast<uint32_t>(GgufType::STRING), 4);
  append_le(metadata_, values.size(), 8);
  for (const auto& value : values)
    append_string(metadata_, value);
}

// -------------------------------------------------------------------------------- tensors

uint64_t GgufWriter::add_tensor_info(const std::string& name, GgmlType type,
                                     const std::vector<int64_t>& shape) {
  check_open_for_definitions("tensor info");
  const auto what = [&] { return str(path_, ": tensor ", quote(name)); };
  SLIM_CHECK(!name.empty(), path_, ": empty GGUF tensor name");
  SLIM_CHECK(tensor_index_.count(name) == 0, what(), " added twice");
  SLIM_CHECK(!shape.empty() && shape.size() <= kMaxDims, what(), ": shape ", shape_text(shape),
             " has ", shape.size(), " dimensions (GGUF tensors have 1 to ", kMaxDims, ")");
  const auto traits = ggml_type_traits(static_cast<uint32_t>(type));
  SLIM_CHECK(traits.has_value() && traits->block_bytes != 0, what(), ": ggml type ",
             ggml_type_name(static_cast<uint32_t>(type)),
             " cannot be written (its block layout is not implemented)");
  uint64_t numel = 1;
  for (int64_t dim : shape) {
    SLIM_CHECK(dim > 0 && !__builtin_mul_overflow(numel, static_cast<uint64_t>(dim), &numel),
               what(), ": invalid shape ", shape_text(shape));
  }
  const int64_t innermost = shape.back();
  SLIM_CHECK(innermost % traits->block_size == 0, what(), ": innermost dimension ", innermost,
             " of shape ", shape_text(shape), " is not a multiple of the ", traits->name,
             " block size ", traits->block_size);
  Tensor tensor;
  tensor.name = name;
  tensor.type = type;
  tensor.dims.assign(shape.rbegin(), shape.rend());
  tensor.nbytes = numel / traits->block_size * traits->block_bytes;
  tensor.offset = data_bytes_;
  data_bytes_ = align_up(data_bytes_ + tensor.nbytes, options_.alignment);
  tensor_index_[name] = tensors_.size();
  tensors_.push_back(std::move(tensor));
  return tensors_.back().nbytes;
}

// -------------------------------------------------------------------------------- writing

void GgufWriter::write_bytes(const void* data, uint64_t n) {
  if (n == 0) return;
  SLIM_CHECK(std::fwrite(data, 1, n, file_) == n, temp_path_,
             ": write failed: ", std::strerror(errno));
  written_ += n;
}

void GgufWriter::write_padding(uint64_t position) {
  static const char zeros[256] = {};
  uint64_t padding = align_up(position, options_.alignment) - position;
  while (padding > 0) {
    const uint64_t n = std::min<uint64_t>(padding, sizeof(zeros));
    write_bytes(zeros, n);
    padding -= n;
  }
}

void GgufWriter::write_header() {
  SLIM_INTERNAL_ASSERT(!header_written_, path_, ": GGUF header written twice");
  const fs::path target(path_);
  std::error_code error;
  if (target.has_parent_path()) {
    fs::create_directories(target.parent_path(), error);
    SLIM_CHECK(!error, target.parent_path().string(),
               ": cannot create directory: ", error.message());
  }
  static std::atomic<int> counter{0};
  temp_path_ = str(path_, ".tmp-", ::getpid(), "-", counter++);
  file_ = std::fopen(temp_path_.c_str(), "wb");
  SLIM_CHECK(file_ != nullptr, temp_path_, ": cannot create: ", std::strerror(errno));
  buffer_.resize(kBufferBytes);
  std::setvbuf(file_, buffer_.data(), _IOFBF, buffer_.size());
  header_written_ = true;

  std::string header;
  header += "GGUF";
  append_le(header, kVersion, 4);
  append_le(header, tensors_.size(), 8);
  append_le(header, kv_count_, 8);
  write_bytes(header.data(), header.size());
  write_bytes(metadata_.data(), metadata_.size());
  std::string().swap(metadata_);

  std::string infos;
  for (const auto& tensor : tensors_) {
    append_string(infos, tensor.name);
    append_le(infos, static_cast<uint32_t>(tensor.dims.size()), 4);
    for (int64_t dim : tensor.dims)
      append_le(infos, static_cast<uint64_t>(dim), 8);
    append_le(infos, static_cast<uint32_t>(tensor.type), 4);
    append_le(infos, tensor.offset, 8);
  }
  write_bytes(infos.data(), infos.size());
  // A file without tensors has no data section (and so no padding).
  if (!tensors_.empty()) write_padding(written_);
}

void GgufWriter::write_tensor_data(const std::string& name, const void* data, uint64_t nbytes) {
  SLIM_INTERNAL_ASSERT(header_written_ && !finished_, path_,
                       ": tensor data written outside write_header() .. finish()");
  SLIM_CHECK(next_tensor_ < tensors_.size(), path_, ": tensor ", quote(name), " written but all ",
             tensors_.size(), " tensors were already written");
  const Tensor& tensor = tensors_[next_tensor_];
  SLIM_CHECK(tensor.name == name, path_, ": tensor ", quote(name), " written where ",
             quote(tensor.name), " was expected (tensors are written in the order added)");
  SLIM_CHECK(nbytes == tensor.nbytes, path_, ": tensor ", quote(name), ": ", nbytes,
             " bytes given, its type and shape need ", tensor.nbytes);
  const uint64_t start = written_;
  write_bytes(data, nbytes);
  write_padding(written_);
  SLIM_INTERNAL_ASSERT(written_ - start == align_up(tensor.nbytes, options_.alignment),
                       "tensor padding");
  ++next_tensor_;
}

void GgufWriter::write_tensor(const std::string& name, const at::Tensor& tensor) {
  const auto it = tensor_index_.find(name);
  SLIM_CHECK(it != tensor_index_.end(), path_, ": tensor ", quote(name), " has no tensor info");
  const Tensor& info = tensors_[it->second];
  const auto scalar_type = scalar_type_of(info.type);
  SLIM_CHECK(scalar_type.has_value(), path_, ": tensor ", quote(name), ": ggml type ",
             ggml_type_name(static_cast<uint32_t>(info.type)),
             " is not a plain element type; write its encoded blocks with write_tensor_data");
  SLIM_CHECK(tensor.scalar_type() == *scalar_type, path_, ": tensor ", quote(name), " has dtype ",
             c10::toString(tensor.scalar_type()), " but its ggml type ",
             ggml_type_name(static_cast<uint32_t>(info.type)), " stores ",
             c10::toString(*scalar_type));
  int64_t numel = 1;
  for (int64_t dim : info.dims)
    numel *= dim;
  SLIM_CHECK(tensor.numel() == numel, path_, ": tensor ", quote(name), " has ", tensor.numel(),
             " elements, its shape needs ", numel);
  const at::Tensor contiguous = tensor.contiguous();
  write_tensor_data(name, contiguous.data_ptr(), contiguous.nbytes());
}

void GgufWriter::finish() {
  SLIM_INTERNAL_ASSERT(!finished_, path_, ": GGUF writer finished twice");
  if (!header_written_) write_header();
  SLIM_CHECK(next_tensor_ == tensors_.size(), path_, ": only ", next_tensor_, " of ",
             tensors_.size(), " tensors were written (next: ",
             quote(next_tensor_ < tensors_.size() ? tensors_[next_tensor_].name : ""), ")");
  SLIM_CHECK(std::fflush(file_) == 0, temp_path_, ": write failed: ", std::strerror(errno));
  SLIM_CHECK(::fsync(::fileno(file_)) == 0, temp_path_, ": sync failed: ", std::strerror(errno));
  const int closed = std::fclose(file_);
  file_ = nullptr;
  SLIM_CHECK(closed == 0, temp_path_, ": close failed: ", std::strerror(errno));
  std::error_code error;
  // Checked again: something may have appeared while we worked.
  if (!options_.overwrite && fs::exists(path_, error)) {
    finished_ = true;  // keep the finished file where the message says it is
    SLIM_FAIL(path_, ": output file appeared while writing; result left in ", temp_path_);
  }
  fs::rename(temp_path_, path_, error);
  SLIM_CHECK(!error, path_, ": cannot move the finished file into place from ", temp_path_, ": ",
             error.message());
  finished_ = true;
}

}  // namespace slim::io
