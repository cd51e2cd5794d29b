#include "slim/io/gguf.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "slim/core/error.h"

namespace slim::io {

namespace {

constexpr uint64_t kDefaultAlignment = 32;
constexpr uint32_t kMaxDims = 4;  // GGML_MAX_DIMS
const char* const kAlignmentKey = "general.alignment";

// Smallest encodings, used to refuse counts that cannot fit in the rest of the file before
// anything is allocated for them.
constexpr uint64_t kMinKvBytes = 8 + 4 + 1;              // empty key is refused; 1-byte value
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 4 + 8;  // no dims, empty name

// One row per ggml type; block_bytes 0: layout not implemented yet (issue 5 adds the rest).
const GgmlTypeTraits kGgmlTypes[] = {
    {GgmlType::F32, "f32", 1, 4},
    {GgmlType::F16, "f16", 1, 2},
    {GgmlType::Q4_0, "q4_0", 32, 18},
    {GgmlType::Q4_1, "q4_1", 32, 20},
    {GgmlType::Q5_0, "q5_0", 32, 22},
    {GgmlType::Q5_1, "q5_1", 32, 24},
    {GgmlType::Q8_0, "q8_0", 32, 34},
    {GgmlType::Q8_1, "q8_1", 32, 36},
    {GgmlType::Q2_K, "q2_K", 256, 84},
    {GgmlType::Q3_K, "q3_K", 256, 110},
    {GgmlType::Q4_K, "q4_K", 256, 144},
    {GgmlType::Q5_K, "q5_K", 256, 176},
    {GgmlType::Q6_K, "q6_K", 256, 210},
    {GgmlType::Q8_K, "q8_K", 256, 292},
    {GgmlType::IQ2_XXS, "iq2_xxs", 256, 0},
    {GgmlType::IQ2_XS, "iq2_xs", 256, 0},
    {GgmlType::IQ3_XXS, "iq3_xxs", 256, 0},
    {GgmlType::IQ1_S, "iq1_s", 256, 0},
    {GgmlType::IQ4_NL, "iq4_nl", 32, 0},
    {GgmlType::IQ3_S, "iq3_s", 256, 0},
    {GgmlType::IQ2_S, "iq2_s", 256, 0},
    {GgmlType::IQ4_XS, "iq4_xs", 256, 0},
    {GgmlType::I8, "i8", 1, 1},
    {GgmlType::I16, "i16", 1, 2},
    {GgmlType::I32, "i32", 1, 4},
    {GgmlType::I64, "i64", 1, 8},
    {GgmlType::F64, "f64", 1, 8},
    {GgmlType::IQ1_M, "iq1_m", 256, 0},
    {GgmlType::BF16, "bf16", 1, 2},
    {GgmlType::TQ1_0, "tq1_0", 256, 0},
    {GgmlType::TQ2_0, "tq2_0", 256, 0},
    {GgmlType::MXFP4, "mxfp4", 32, 0},
};

bool known_type(uint32_t type) {
  return type <= static_cast<uint32_t>(GgufType::FLOAT64);
}

bool is_integer(GgufType type) {
  switch (type) {
    case GgufType::UINT8:
    case GgufType::INT8:
    case GgufType::UINT16:
    case GgufType::INT16:
    case GgufType::UINT32:
    case GgufType::INT32:
    case GgufType::UINT64:
    case GgufType::INT64:
      return true;
    default:
      return false;
  }
}

uint64_t load_le(const uint8_t* bytes, size_t n) {
  uint64_t value = 0;
  for (size_t i = n; i-- > 0;)
    value = (value << 8) | bytes[i];
  return value;
}

// Sequential reads inside the mapping; every read checks the remaining bytes first. `what`
// describes the field for messages and is only evaluated on failure.
class Cursor {
 public:
  Cursor(const std::string& path, const uint8_t* data, uint64_t size)
      : path_(path), data_(data), size_(size) {}

  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return size_ - pos_; }

  template <typename What>
  void need(uint64_t n, const What& what) const {
    SLIM_CHECK(n <= remaining(), path_, ": truncated file: ", what(), " at offset ", pos_,
               " needs ", n, " bytes but only ", remaining(), " remain");
  }
  template <typename What>
  uint64_t read_uint(size_t n, const What& what) {
    need(n, what);
    const uint64_t value = load_le(data_ + pos_, n);
    pos_ += n;
    return value;
  }
  template <typename What>
  uint32_t u32(const What& what) {
    return static_cast<uint32_t>(read_uint(4, what));
  }
  template <typename What>
  uint64_t u64(const What& what) {
    return read_uint(8, what);
  }
  // A string: uint64 length, bytes. The length is checked against the file before use.
  template <typename What>
  std::string string(const What& what) {
    const uint64_t length = u64([&] { return str(what(), " (length)"); });
    SLIM_CHECK(length <= remaining(), path_, ": ", what(), " at offset ", pos_ - 8, " has length ",
               length, " but only ", remaining(), " bytes remain in the file");
    std::string text(reinterpret_cast<const char*>(data_ + pos_), length);
    pos_ += length;
    return text;
  }
  template <typename What>
  void skip(uint64_t n, const What& what) {
    need(n, what);
    pos_ += n;
  }

 private:
  const std::string& path_;
  const uint8_t* data_;
  uint64_t size_;
  uint64_t pos_ = 0;
};

std::string describe_kv(uint64_t index, const std::string& key) {
  return str("metadata entry ", index, " (key ", quote(key), ")");
}

}  // namespace

uint64_t gguf_value_size(GgufType type) {
  switch (type) {
    case GgufType::UINT8:
    case GgufType::INT8:
    case GgufType::BOOL:
      return 1;
    case GgufType::UINT16:
    case GgufType::INT16:
      return 2;
    case GgufType::UINT32:
    case GgufType::INT32:
    case GgufType::FLOAT32:
      return 4;
    case GgufType::UINT64:
    case GgufType::INT64:
    case GgufType::FLOAT64:
      return 8;
    case GgufType::STRING:
    case GgufType::ARRAY:
      return 0;
  }
  return 0;
}

std::string gguf_type_name(GgufType type) {
  switch (type) {
    case GgufType::UINT8:
      return "uint8";
    case GgufType::INT8:
      return "int8";
    case GgufType::UINT16:
      return "uint16";
    case GgufType::INT16:
      return "int16";
    case GgufType::UINT32:
      return "uint32";
    case GgufType::INT32:
      return "int32";
    case GgufType::FLOAT32:
      return "float32";
    case GgufType::BOOL:
      return "bool";
    case GgufType::STRING:
      return "string";
    case GgufType::ARRAY:
      return "array";
    case GgufType::UINT64:
      return "uint64";
    case GgufType::INT64:
      return "int64";
    case GgufType::FLOAT64:
      return "float64";
  }
  return str("type ", static_cast<uint32_t>(type));
}

std::optional<GgmlTypeTraits> ggml_type_traits(uint32_t type) {
  for (const auto& row : kGgmlTypes) {
    if (static_cast<uint32_t>(row.type) == type) return row;
  }
  return std::nullopt;
}

std::string ggml_type_name(uint32_t type) {
  const auto traits = ggml_type_traits(type);
  return traits ? std::string(traits->name) : str("type ", type);
}

int64_t GgufTensorInfo::numel() const {
  int64_t count = 1;
  for (int64_t dim : dims)
    count *= dim;
  return count;
}

// ------------------------------------------------------------------------------------ parsing

std::shared_ptr<GgufFile> GgufFile::open(const std::string& path) {
  std::shared_ptr<GgufFile> result(new GgufFile());
  result->file_ = MappedFile::open(path);
  result->parse();
  return result;
}

void GgufFile::parse() {
  const std::string& path = file_->path();
  const uint8_t* bytes = file_->data();
  const uint64_t size = file_->size();
  Cursor in(path, bytes, size);

  SLIM_CHECK(size >= 4 && std::memcmp(bytes, "GGUF", 4) == 0, path,
             ": not a GGUF file: it does not start with the magic 'GGUF'");
  in.skip(4, [] { return "magic"; });
  version_ = in.u32([] { return "version"; });
  SLIM_CHECK(!((version_ & 0xFFFF) == 0 && version_ != 0), path, ": version field ", version_,
             " looks byte-swapped: big-endian GGUF files are not supported");
  SLIM_CHECK(version_ != 1, path,
             ": GGUF version 1 is not supported (it predates 64-bit counts); convert the file "
             "with a current llama.cpp");
  SLIM_CHECK(version_ == 2 || version_ == 3, path, ": unsupported GGUF version ", version_,
             " (supported: 2, 3)");
  const uint64_t tensor_count = in.u64([] { return "tensor count"; });
  const uint64_t kv_count = in.u64([] { return "metadata count"; });
  SLIM_CHECK(kv_count <= in.remaining() / kMinKvBytes, path, ": metadata count ", kv_count,
             " cannot fit in the remaining ", in.remaining(), " bytes of the file");
  SLIM_CHECK(tensor_count <= in.remaining() / kMinTensorInfoBytes, path, ": tensor count ",
             tensor_count, " cannot fit in the remaining ", in.remaining(), " bytes of the file");

  // -------------------------------------------------------------------------- metadata
  for (uint64_t i = 0; i < kv_count; ++i) {
    std::string key = in.string([&] { return str("key of metadata entry ", i); });
    SLIM_CHECK(!key.empty(), path, ": metadata entry ", i, " has an empty key");
    SLIM_CHECK(kv_.count(key) == 0, path, ": metadata key ", quote(key), " appears more than once");
    const auto what = [&] { return describe_kv(i, key); };
    Kv kv;
    const uint32_t type = in.u32([&] { return str("value type of ", what()); });
    SLIM_CHECK(known_type(type), path, ": ", what(), " has unknown value type ", type);
    kv.type = static_cast<GgufType>(type);
    kv.element_type = kv.type;
    if (kv.type == GgufType::ARRAY) {
      const uint32_t element = in.u32([&] { return str("array element type of ", what()); });
      SLIM_CHECK(known_type(element), path, ": ", what(), " is an array of unknown type ", element);
      SLIM_CHECK(element != static_cast<uint32_t>(GgufType::ARRAY), path, ": ", what(),
                 " is an array of arrays, which is not supported");
      kv.element_type = static_cast<GgufType>(element);
      kv.count = in.u64([&] { return str("array length of ", what()); });
    }
    kv.offset = in.pos();
    const uint64_t element_size = gguf_value_size(kv.element_type);
    if (element_size != 0) {
      SLIM_CHECK(kv.count <= in.remaining() / element_size, path, ": ", what(), " has ", kv.count,
                 " elements of ", gguf_type_name(kv.element_type), " (", element_size,
                 " bytes each) but only ", in.remaining(), " bytes remain in the file");
      if (kv.element_type == GgufType::BOOL) {
        for (uint64_t e = 0; e < kv.count; ++e) {
          const uint8_t value = bytes[kv.offset + e];
          SLIM_CHECK(value <= 1, path, ": ", what(), ": bool value ", static_cast<int>(value),
                     " at offset ", kv.offset + e, " is neither 0 nor 1");
        }
      }
      in.skip(kv.count * element_size, what);
    } else {
      // Strings: each one is checked against the file as it is skipped.
      SLIM_CHECK(kv.count <= in.remaining() / 8, path, ": ", what(), " has ", kv.count,
                 " strings but only ", in.remaining(), " bytes remain in the file");
      for (uint64_t e = 0; e < kv.count; ++e) {
        const uint64_t length = in.u64([&] {
          return kv.type == GgufType::ARRAY ? str("string ", e, " of ", what()) : what();
        });
        SLIM_CHECK(length <= in.remaining(), path, ": ",
                   kv.type == GgufType::ARRAY ? str("string ", e, " of ", what()) : what(),
                   " at offset ", in.pos() - 8, " has length ", length, " but only ",
                   in.remaining(), " bytes remain in the file");
        in.skip(length, what);
      }
    }
    key_order_.push_back(key);
    kv_.emplace(std::move(key), kv);
  }

  if (const Kv* kv = find_opt(kAlignmentKey)) {
    SLIM_CHECK(kv->type == GgufType::UINT32, path, ": key '", kAlignmentKey, "' has type ",
               gguf_type_name(kv->type), ", expected uint32");
    alignment_ = scalar_at<uint32_t>(*kv);
    SLIM_CHECK(alignment_ != 0 && (alignment_ & (alignment_ - 1)) == 0, path, ": key '",
               kAlignmentKey, "' is ", alignment_, ", which is not a power of two");
  } else {
    alignment_ = kDefaultAlignment;
  }

  // ---------------------------------------------------------------------- tensor infos
  for (uint64_t i = 0; i < tensor_count; ++i) {
    GgufTensorInfo info;
    info.name = in.string([&] { return str("name of tensor info ", i); });
    const auto what = [&] { return str("tensor ", quote(info.name)); };
    SLIM_CHECK(tensor_index_.count(info.name) == 0, path, ": ", what(), " appears more than once");
    const uint32_t n_dims = in.u32([&] { return str("dimension count of ", what()); });
    SLIM_CHECK(n_dims <= kMaxDims, path, ": ", what(), " has ", n_dims, " dimensions (at most ",
               kMaxDims, ")");
    uint64_t numel = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t dim = in.u64([&] { return str("dimension ", d, " of ", what()); });
      SLIM_CHECK(dim <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) &&
                     !__builtin_mul_overflow(numel, dim, &numel) &&
                     numel <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()),
                 path, ": ", what(), ": dimension ", d, " (", dim,
                 ") makes the element count overflow");
      info.dims.push_back(static_cast<int64_t>(dim));
    }
    const uint32_t type = in.u32([&] { return str("ggml type of ", what()); });
    const auto traits = ggml_type_traits(type);
    SLIM_CHECK(traits.has_value(), path, ": ", what(), " has unknown ggml type ", type);
    info.type = traits->type;
    info.offset = in.u64([&] { return str("data offset of ", what()); });
    SLIM_CHECK(info.offset % alignment_ == 0, path, ": ", what(), " data offset ", info.offset,
               " is not a multiple of the alignment ", alignment_);
    if (traits->block_bytes != 0) {
      const uint64_t first = info.dims.empty() ? 1 : static_cast<uint64_t>(info.dims[0]);
      SLIM_CHECK(first % traits->block_size == 0, path, ": ", what(), " has ", first,
                 " elements per row, not a multiple of the ", traits->name, " block size ",
                 traits->block_size);
      uint64_t nbytes = 0;
      SLIM_CHECK(!__builtin_mul_overflow(numel / traits->block_size,
                                         static_cast<uint64_t>(traits->block_bytes), &nbytes),
                 path, ": ", what(), ": byte size overflows");
      info.nbytes = nbytes;
    }
    tensor_index_[info.name] = tensors_.size();
    tensors_.push_back(std::move(info));
  }

  // ------------------------------------------------------------------------ data section
  if (tensors_.empty()) {
    data_offset_ = 0;
    return;
  }
  const uint64_t header_end = in.pos();
  data_offset_ = (header_end + alignment_ - 1) / alignment_ * alignment_;
  SLIM_CHECK(data_offset_ <= size, path, ": truncated file: the data section would start at ",
             data_offset_, " (after padding to ", alignment_, ") but the file has ", size,
             " bytes");
  const uint64_t data_size = size - data_offset_;
  std::vector<const GgufTensorInfo*> by_offset;
  by_offset.reserve(tensors_.size());
  for (const auto& info : tensors_) {
    SLIM_CHECK(info.offset <= data_size, path, ": tensor ", quote(info.name), " data offset ",
               info.offset, " is beyond the end of the file (the data section has ", data_size,
               " bytes)");
    if (info.nbytes) {
      SLIM_CHECK(*info.nbytes <= data_size - info.offset, path, ": tensor ", quote(info.name), ": ",
                 *info.nbytes, " bytes at data offset ", info.offset,
                 " go beyond the end of the file (the data section has ", data_size, " bytes)");
    }
    by_offset.push_back(&info);
  }
  std::stable_sort(
      by_offset.begin(), by_offset.end(),
      [](const GgufTensorInfo* a, const GgufTensorInfo* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const GgufTensorInfo& previous = *by_offset[i - 1];
    const GgufTensorInfo& current = *by_offset[i];
    const uint64_t previous_end = previous.offset + previous.nbytes.value_or(1);
    SLIM_CHECK(current.offset >= previous_end, path, ": tensor ", quote(current.name),
               " at data offset ", current.offset, " overlaps tensor ", quote(previous.name),
               " at data offset ", previous.offset);
  }
}

// ------------------------------------------------------------------------------------ getters

const GgufFile::Kv* GgufFile::find_opt(const std::string& key) const {
  const auto it = kv_.find(key);
  return it == kv_.end() ? nullptr : &it->second;
}

const GgufFile::Kv& GgufFile::find(const std::string& key) const {
  const Kv* kv = find_opt(key);
  SLIM_CHECK(kv != nullptr, path(), ": metadata key ", quote(key), " is missing");
  return *kv;
}

GgufType GgufFile::type_of(const std::string& key) const {
  return find(key).type;
}

GgufType GgufFile::array_type_of(const std::string& key) const {
  const Kv& kv = find(key);
  SLIM_CHECK(kv.type == GgufType::ARRAY, path(), ": metadata key ", quote(key), " has type ",
             gguf_type_name(kv.type), ", expected an array");
  return kv.element_type;
}

uint64_t GgufFile::array_size(const std::string& key) const {
  const Kv& kv = find(key);
  SLIM_CHECK(kv.type == GgufType::ARRAY, path(), ": metadata key ", quote(key), " has type ",
             gguf_type_name(kv.type), ", expected an array");
  return kv.count;
}

namespace {

std::string type_description(GgufType type, GgufType element_type) {
  return type == GgufType::ARRAY ? str("array of ", gguf_type_name(element_type))
                                 : gguf_type_name(type);
}

}  // namespace

const GgufFile::Kv& GgufFile::expect_scalar(const std::string& key, GgufType type) const {
  const Kv& kv = find(key);
  SLIM_CHECK(kv.type == type, path(), ": metadata key ", quote(key), " has type ",
             type_description(kv.type, kv.element_type), ", expected ", gguf_type_name(type));
  return kv;
}

const GgufFile::Kv& GgufFile::expect_array(const std::string& key, GgufType element_type) const {
  const Kv& kv = find(key);
  SLIM_CHECK(kv.type == GgufType::ARRAY && kv.element_type == element_type, path(),
             ": metadata key ", quote(key), " has type ",
             type_description(kv.type, kv.element_type), ", expected array of ",
             gguf_type_name(element_type));
  return kv;
}

template <typename T>
T GgufFile::scalar_at(const Kv& kv) const {
  T value;
  const uint64_t bits = load_le(file_->data() + kv.offset, sizeof(T));
  std::memcpy(&value, &bits, sizeof(T));  // little-endian host (x86-64, aarch64)
  return value;
}

int64_t GgufFile::integer_at(const std::string& key, GgufType type, uint64_t offset) const {
  const uint8_t* at = file_->data() + offset;
  switch (type) {
    case GgufType::UINT8:
      return at[0];
    case GgufType::INT8:
      return static_cast<int8_t>(at[0]);
    case GgufType::UINT16:
      return static_cast<uint16_t>(load_le(at, 2));
    case GgufType::INT16:
      return static_cast<int16_t>(load_le(at, 2));
    case GgufType::UINT32:
      return static_cast<uint32_t>(load_le(at, 4));
    case GgufType::INT32:
      return static_cast<int32_t>(load_le(at, 4));
    case GgufType::INT64:
      return static_cast<int64_t>(load_le(at, 8));
    case GgufType::UINT64: {
      const uint64_t value = load_le(at, 8);
      SLIM_CHECK(value <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()), path(),
                 ": metadata key ", quote(key), ": value ", value, " is too large");
      return static_cast<int64_t>(value);
    }
    default:
      SLIM_INTERNAL_ASSERT(false, "integer_at on ", gguf_type_name(type));
  }
}

std::string GgufFile::get_string(const std::string& key) const {
  const Kv& kv = expect_scalar(key, GgufType::STRING);
  const uint64_t length = load_le(file_->data() + kv.offset, 8);
  return std::string(reinterpret_cast<const char*>(file_->data() + kv.offset + 8), length);
}

bool GgufFile::get_bool(const std::string& key) const {
  return file_->data()[expect_scalar(key, GgufType::BOOL).offset] != 0;
}

uint32_t GgufFile::get_u32(const std::string& key) const {
  return scalar_at<uint32_t>(expect_scalar(key, GgufType::UINT32));
}

int32_t GgufFile::get_i32(const std::string& key) const {
  return scalar_at<int32_t>(expect_scalar(key, GgufType::INT32));
}

uint64_t GgufFile::get_u64(const std::string& key) const {
  return scalar_at<uint64_t>(expect_scalar(key, GgufType::UINT64));
}

float GgufFile::get_f32(const std::string& key) const {
  return scalar_at<float>(expect_scalar(key, GgufType::FLOAT32));
}

int64_t GgufFile::get_int(const std::string& key) const {
  const Kv& kv = find(key);
  SLIM_CHECK(is_integer(kv.type), path(), ": metadata key ", quote(key), " has type ",
             type_description(kv.type, kv.element_type), ", expected an integer");
  return integer_at(key, kv.type, kv.offset);
}

std::optional<std::string> GgufFile::get_string_opt(const std::string& key) const {
  if (!contains(key)) return std::nullopt;
  return get_string(key);
}
std::optional<bool> GgufFile::get_bool_opt(const std::string& key) const {
  if (!contains(key)) return std::nullopt;
  return get_bool(key);
}
std::optional<uint32_t> GgufFile::get_u32_opt(const std::string& key) const {
  if (!contains(key)) return std::nullopt;
  return get_u32(key);
}
std::optional<int32_t> GgufFile::get_i32_opt(const std::string& key) const {
  if (!contains(key)) return std::nullopt;
  return get_i32(key);
}
std::optional<float> GgufFile::get_f32_opt(const std::string& key) const {
  if (!contains(key)) return std::nullopt;
  return get_f32(key);
}
std::optional<int64_t> GgufFile::get_int_opt(const std::string& key) const {
  if (!contains(key)) return std::nullopt;
  return get_int(key);
}

std::vector<std::string> GgufFile::get_array_strings(const std::string& key) const {
  const Kv& kv = expect_array(key, GgufType::STRING);
  std::vector<std::string> values;
  values.reserve(kv.count);  // each string was checked to exist while parsing
  uint64_t offset = kv.offset;
  for (uint64_t i = 0; i < kv.count; ++i) {
    const uint64_t length = load_le(file_->data() + offset, 8);
    values.emplace_back(reinterpret_cast<const char*>(file_->data() + offset + 8), length);
    offset += 8 + length;
  }
  return values;
}

std::vector<float> GgufFile::get_array_f32(const std::string& key) const {
  const Kv& kv = expect_array(key, GgufType::FLOAT32);
  std::vector<float> values(kv.count);
  for (uint64_t i = 0; i < kv.count; ++i) {
    const uint32_t bits = static_cast<uint32_t>(load_le(file_->data() + kv.offset + 4 * i, 4));
    std::memcpy(&values[i], &bits, 4);
  }
  return values;
}

std::vector<int32_t> GgufFile::get_array_i32(const std::string& key) const {
  const Kv& kv = expect_array(key, GgufType::INT32);
  std::vector<int32_t> values(kv.count);
  for (uint64_t i = 0; i < kv.count; ++i)
    values[i] = static_cast<int32_t>(load_le(file_->data() + kv.offset + 4 * i, 4));
  return values;
}

std::vector<uint8_t> GgufFile::get_array_u8(const std::string& key) const {
  const Kv& kv = expect_array(key, GgufType::UINT8);
  return std::vector<uint8_t>(file_->data() + kv.offset, file_->data() + kv.offset + kv.count);
}

std::vector<int64_t> GgufFile::get_array_int(const std::string& key) const {
  const Kv& kv = find(key);
  SLIM_CHECK(kv.type == GgufType::ARRAY && is_integer(kv.element_type), path(), ": metadata key ",
             quote(key), " has type ", type_description(kv.type, kv.element_type),
             ", expected an array of integers");
  const uint64_t size = gguf_value_size(kv.element_type);
  std::vector<int64_t> values(kv.count);
  for (uint64_t i = 0; i < kv.count; ++i)
    values[i] = integer_at(key, kv.element_type, kv.offset + size * i);
  return values;
}

const GgufTensorInfo& GgufFile::tensor(const std::string& name) const {
  const auto it = tensor_index_.find(name);
  SLIM_CHECK(it != tensor_index_.end(), path(), ": no tensor named ", quote(name));
  return tensors_[it->second];
}

}  // namespace slim::io
