#include "slim/io/safetensors.h"

#include <ATen/ATen.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "slim/core/error.h"
#include "slim/core/text.h"

namespace slim::io {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct DtypeRow {
  Dtype dtype;
  const char* name;
  size_t size;
  std::optional<at::ScalarType> scalar_type;
};

// One row per safetensors dtype; everything about dtypes is read from here.
const DtypeRow kDtypes[] = {
    {Dtype::F64, "F64", 8, at::kDouble},
    {Dtype::F32, "F32", 4, at::kFloat},
    {Dtype::F16, "F16", 2, at::kHalf},
    {Dtype::BF16, "BF16", 2, at::kBFloat16},
    {Dtype::I64, "I64", 8, at::kLong},
    {Dtype::I32, "I32", 4, at::kInt},
    {Dtype::I16, "I16", 2, at::kShort},
    {Dtype::I8, "I8", 1, at::kChar},
    {Dtype::U8, "U8", 1, at::kByte},
    {Dtype::BOOL, "BOOL", 1, at::kBool},
    {Dtype::U16, "U16", 2, std::nullopt},
    {Dtype::U32, "U32", 4, std::nullopt},
    {Dtype::U64, "U64", 8, std::nullopt},
    {Dtype::F8_E4M3, "F8_E4M3", 1, std::nullopt},
    {Dtype::F8_E5M2, "F8_E5M2", 1, std::nullopt},
    {Dtype::F8_E8M0, "F8_E8M0", 1, std::nullopt},
};

const DtypeRow& row_of(Dtype dtype) {
  for (const auto& row : kDtypes) {
    if (row.dtype == dtype) return row;
  }
  SLIM_INTERNAL_ASSERT(false, "dtype without a table row: ", static_cast<int>(dtype));
}

std::string known_dtype_names() {
  std::string names;
  for (const auto& row : kDtypes)
    names += (names.empty() ? "" : ", ") + std::string(row.name);
  return names;
}

constexpr uint64_t kMaxHeaderBytes = 100'000'000;  // the limit of the reference implementation

bool mul_overflows(uint64_t a, uint64_t b, uint64_t* out) {
  return __builtin_mul_overflow(a, b, out);
}

uint64_t read_u64_le(const uint8_t* bytes) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i)
    value = (value << 8) | bytes[i];
  return value;
}

TensorInfo parse_tensor_entry(const std::string& path, const std::string& name, const json& entry) {
  const std::string where = str(path, ": tensor ", quote(name));
  SLIM_CHECK(entry.is_object(), where, ": header entry is not a JSON object");
  TensorInfo info;
  info.name = name;

  SLIM_CHECK(entry.contains("dtype") && entry["dtype"].is_string(), where,
             ": missing string key 'dtype'");
  const std::string dtype_text = entry["dtype"].get<std::string>();
  const auto dtype = parse_dtype(dtype_text);
  SLIM_CHECK(dtype.has_value(), where, ": unknown dtype ", quote(dtype_text),
             " (known: ", known_dtype_names(), ")");
  info.dtype = *dtype;

  SLIM_CHECK(entry.contains("shape") && entry["shape"].is_array(), where,
             ": missing array key 'shape'");
  for (const auto& dim : entry["shape"]) {
    SLIM_CHECK(dim.is_number_unsigned() || (dim.is_number_integer() && dim.get<int64_t>() >= 0),
               where, ": shape ", entry["shape"].dump(), " must hold non-negative integers");
    const uint64_t value = dim.get<uint64_t>();
    SLIM_CHECK(value <= static_cast<uint64_t>(INT64_MAX), where, ": shape dimension ", value,
               " is too large");
    info.shape.push_back(static_cast<int64_t>(value));
  }

  SLIM_CHECK(entry.contains("data_offsets") && entry["data_offsets"].is_array() &&
                 entry["data_offsets"].size() == 2 &&
                 entry["data_offsets"][0].is_number_unsigned() &&
                 entry["data_offsets"][1].is_number_unsigned(),
             where, ": 'data_offsets' must be [begin, end] with non-negative integers");
  info.begin = entry["data_offsets"][0].get<uint64_t>();
  info.end = entry["data_offsets"][1].get<uint64_t>();
  SLIM_CHECK(info.begin <= info.end, where, ": data_offsets [", info.begin, ", ", info.end,
             "] are reversed (begin > end)");

  uint64_t expected = dtype_size(info.dtype);
  for (int64_t dim : info.shape) {
    SLIM_CHECK(!mul_overflows(expected, static_cast<uint64_t>(dim), &expected), where, ": shape ",
               shape_text(info.shape), " overflows the byte count");
  }
  SLIM_CHECK(expected == info.nbytes(), where, ": shape ", shape_text(info.shape), " x ",
             dtype_name(info.dtype), " needs ", expected, " bytes but data_offsets [", info.begin,
             ", ", info.end, "] hold ", info.nbytes());
  return info;
}

}  // namespace

const char* dtype_name(Dtype dtype) {
  return row_of(dtype).name;
}
size_t dtype_size(Dtype dtype) {
  return row_of(dtype).size;
}
std::optional<at::ScalarType> dtype_scalar_type(Dtype dtype) {
  return row_of(dtype).scalar_type;
}

std::optional<Dtype> parse_dtype(const std::string& name) {
  for (const auto& row : kDtypes) {
    if (name == row.name) return row.dtype;
  }
  return std::nullopt;
}

Dtype dtype_from_scalar_type(at::ScalarType type) {
  for (const auto& row : kDtypes) {
    if (row.scalar_type == type) return row.dtype;
  }
  SLIM_FAIL("tensor dtype ", c10::toString(type), " cannot be stored in safetensors");
}

int64_t TensorInfo::numel() const {
  int64_t count = 1;
  for (int64_t dim : shape)
    count *= dim;
  return count;
}

// ------------------------------------------------------------------------------------ reader

std::shared_ptr<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  std::shared_ptr<SafetensorsFile> result(new SafetensorsFile());
  result->file_ = MappedFile::open(path);
  result->parse_header();
  return result;
}

void SafetensorsFile::parse_header() {
  const std::string& path = file_->path();
  const uint64_t file_size = file_->size();
  SLIM_CHECK(file_size >= 8, path, ": not a safetensors file: ", file_size,
             " bytes is shorter than the 8-byte header length");
  const uint64_t header_size = read_u64_le(file_->data());
  SLIM_CHECK(header_size <= file_size - 8, path, ": header length ", header_size,
             " goes beyond the end of the file (", file_size, " bytes)");
  SLIM_CHECK(header_size <= kMaxHeaderBytes, path, ": header length ", header_size,
             " exceeds the limit of ", kMaxHeaderBytes, " bytes");
  const char* header_begin = reinterpret_cast<const char*>(file_->data() + 8);
  data_start_ = file_->data() + 8 + header_size;
  data_size_ = file_size - 8 - header_size;

  // Duplicate keys are legal JSON but ambiguous here: refuse them while parsing (the parsed
  // object would silently keep only the last one).
  std::set<std::string> top_level_keys;
  std::string duplicate;
  json::parser_callback_t reject_duplicates = [&](int depth, json::parse_event_t event,
                                                  json& parsed) {
    if (event == json::parse_event_t::key && depth == 1) {
      const auto key = parsed.get<std::string>();
      if (!top_level_keys.insert(key).second && duplicate.empty()) duplicate = key;
    }
    return true;
  };
  json header;
  try {
    header = json::parse(header_begin, header_begin + header_size, reject_duplicates);
  } catch (const json::exception& error) {
    SLIM_FAIL(path, ": header is not valid JSON: ", error.what());
  }
  SLIM_CHECK(duplicate.empty(), path, ": tensor ", quote(duplicate),
             " appears more than once in the header");
  SLIM_CHECK(header.is_object(), path, ": header is not a JSON object");

  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      SLIM_CHECK(entry.is_object(), path, ": __metadata__ must be an object of strings");
      for (const auto& [key, value] : entry.items()) {
        SLIM_CHECK(value.is_string(), path, ": __metadata__ key ", quote(key), " is not a string");
        metadata_[key] = value.get<std::string>();
      }
      continue;
    }
    tensors_.push_back(parse_tensor_entry(path, name, entry));
  }

  // The data ranges must tile the data section: sorted by offset, each starts where the
  // previous ended, and the last ends at the end of the file.
  std::stable_sort(tensors_.begin(), tensors_.end(), [](const TensorInfo& a, const TensorInfo& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t expected_begin = 0;
  const TensorInfo* previous = nullptr;
  for (const auto& info : tensors_) {
    SLIM_CHECK(info.end <= data_size_, path, ": tensor ", quote(info.name), ": data_offsets [",
               info.begin, ", ", info.end, "] are out of range: the data section has ", data_size_,
               " bytes");
    SLIM_CHECK(info.begin >= expected_begin, path, ": tensor ", quote(info.name),
               ": data_offsets [", info.begin, ", ", info.end, "] overlap tensor ",
               quote(previous ? previous->name : ""), " which ends at ", expected_begin);
    SLIM_CHECK(info.begin == expected_begin, path, ": tensor ", quote(info.name),
               ": data starts at ", info.begin, " but the previous tensor ends at ", expected_begin,
               " (the data section must have no holes)");
    expected_begin = info.end;
    previous = &info;
  }
  SLIM_CHECK(expected_begin == data_size_, path, ": the data section has ", data_size_,
             " bytes but the tensors cover only ", expected_begin);
  for (size_t i = 0; i < tensors_.size(); ++i)
    index_[tensors_[i].name] = i;
}

const TensorInfo& SafetensorsFile::info(const std::string& name) const {
  const auto found = index_.find(name);
  SLIM_CHECK(found != index_.end(), path(), ": no tensor named ", quote(name));
  return tensors_[found->second];
}

at::Tensor SafetensorsFile::raw_bytes(const std::string& name) const {
  const TensorInfo& entry = info(name);
  auto keep_alive = file_;
  return at::from_blob(
      const_cast<uint8_t*>(data(entry)), {static_cast<int64_t>(entry.nbytes())},
      [keep_alive](void*) {}, at::TensorOptions().dtype(at::kByte));
}

void SafetensorsFile::release(const std::string& name) const {
  const TensorInfo& entry = info(name);
  file_->release(data(entry), entry.nbytes());
}

at::Tensor SafetensorsFile::tensor(const std::string& name) const {
  const TensorInfo& entry = info(name);
  const size_t element_size = dtype_size(entry.dtype);
  at::ScalarType type;
  if (const auto scalar = dtype_scalar_type(entry.dtype)) {
    type = *scalar;
  } else {
    SLIM_CHECK(element_size == 1, path(), ": tensor ", quote(name), " has dtype ",
               dtype_name(entry.dtype), " which has no ATen equivalent; read it with raw_bytes()");
    type = at::kByte;  // F8 variants: bytes with the dtype kept in info()
  }
  const uint8_t* bytes = data(entry);
  const auto options = at::TensorOptions().dtype(type);
  if (entry.nbytes() == 0) return at::empty(entry.shape, options);
  if (reinterpret_cast<uintptr_t>(bytes) % element_size != 0) {
    // safetensors does not align tensors; ATen kernels may assume element alignment.
    at::Tensor copy = at::empty(entry.shape, options);
    std::memcpy(copy.data_ptr(), bytes, entry.nbytes());
    return copy;
  }
  auto keep_alive = file_;
  return at::from_blob(
      const_cast<uint8_t*>(bytes), entry.shape, [keep_alive](void*) {}, options);
}

// ------------------------------------------------------------------------------ checkpoint

void SafetensorsCheckpoint::add_file(std::shared_ptr<SafetensorsFile> file) {
  const size_t position = files_.size();
  for (const auto& info : file->tensors()) {
    const auto [it, inserted] = where_.emplace(info.name, position);
    SLIM_CHECK(inserted, "tensor ", quote(info.name), " is stored twice: in ",
               files_[it->second]->path(), " and in ", file->path());
    names_.push_back(info.name);
  }
  files_.push_back(std::move(file));
}

SafetensorsCheckpoint SafetensorsCheckpoint::open_index(const std::string& index_path) {
  json index;
  {
    std::ifstream stream(index_path);
    SLIM_CHECK(stream.good(), index_path, ": cannot open the index file");
    try {
      index = json::parse(stream);
    } catch (const json::exception& error) {
      SLIM_FAIL(index_path, ": not valid JSON: ", error.what());
    }
  }
  SLIM_CHECK(index.is_object() && index.contains("weight_map") && index["weight_map"].is_object(),
             index_path, ": missing object key 'weight_map'");
  SafetensorsCheckpoint checkpoint;
  checkpoint.index_path_ = index_path;
  if (index.contains("metadata") && index["metadata"].is_object()) {
    for (const auto& [key, value] : index["metadata"].items()) {
      checkpoint.index_metadata_[key] = value.is_string() ? value.get<std::string>() : value.dump();
    }
  }
  const fs::path directory = fs::path(index_path).parent_path();
  std::map<std::string, std::vector<std::string>> tensors_by_shard;
  for (const auto& [tensor_name, shard] : index["weight_map"].items()) {
    SLIM_CHECK(shard.is_string(), index_path, ": weight_map entry ", quote(tensor_name),
               " is not a file name");
    tensors_by_shard[shard.get<std::string>()].push_back(tensor_name);
  }
  for (const auto& [shard, tensor_names] : tensors_by_shard) {
    const fs::path shard_path = directory / shard;
    SLIM_CHECK(fs::is_regular_file(shard_path), index_path, ": shard ", quote(shard), " (holding ",
               quote(tensor_names.front()), " and ", tensor_names.size() - 1,
               " more) does not exist at ", shard_path.string());
    auto file = SafetensorsFile::open(shard_path.string());
    for (const auto& tensor_name : tensor_names) {
      SLIM_CHECK(file->contains(tensor_name), index_path, ": tensor ", quote(tensor_name),
                 " is mapped to ", quote(shard), " but that shard does not contain it");
    }
    if (file->tensors().size() != tensor_names.size()) {
      spdlog::warn("{}: shard {} holds {} tensors not listed in the index; they are ignored",
                   index_path, shard, file->tensors().size() - tensor_names.size());
    }
    const size_t position = checkpoint.files_.size();
    for (const auto& tensor_name : tensor_names) {
      checkpoint.where_.emplace(tensor_name, position);
      checkpoint.names_.push_back(tensor_name);
    }
    checkpoint.files_.push_back(std::move(file));
  }
  std::sort(checkpoint.names_.begin(), checkpoint.names_.end());
  return checkpoint;
}

SafetensorsCheckpoint SafetensorsCheckpoint::open(const std::string& path) {
  const fs::path location(path);
  SLIM_CHECK(fs::exists(location), path, ": no such file or directory");
  if (!fs::is_directory(location)) {
    if (location.extension() == ".json") return open_index(path);
    SafetensorsCheckpoint checkpoint;
    checkpoint.add_file(SafetensorsFile::open(path));
    std::sort(checkpoint.names_.begin(), checkpoint.names_.end());
    return checkpoint;
  }
  if (fs::is_regular_file(location / "model.safetensors.index.json")) {
    return open_index((location / "model.safetensors.index.json").string());
  }
  if (fs::is_regular_file(location / "model.safetensors")) {
    return open((location / "model.safetensors").string());
  }
  std::vector<fs::path> indexes;
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(location)) {
    const std::string file_name = entry.path().filename().string();
    if (!entry.is_regular_file()) continue;
    if (ends_with(file_name, ".safetensors.index.json")) {
      indexes.push_back(entry.path());
    } else if (entry.path().extension() == ".safetensors") {
      files.push_back(entry.path());
    }
  }
  if (indexes.size() == 1) return open_index(indexes.front().string());
  SLIM_CHECK(indexes.size() <= 1, path,
             ": several *.safetensors.index.json files; pass one of "
             "them explicitly");
  SLIM_CHECK(!files.empty(), path,
             ": no safetensors checkpoint (looked for model.safetensors.index.json, "
             "model.safetensors, *.safetensors)");
  std::sort(files.begin(), files.end());
  SafetensorsCheckpoint checkpoint;
  for (const auto& file : files)
    checkpoint.add_file(SafetensorsFile::open(file.string()));
  std::sort(checkpoint.names_.begin(), checkpoint.names_.end());
  return checkpoint;
}

const SafetensorsFile& SafetensorsCheckpoint::file_of(const std::string& name) const {
  const auto found = where_.find(name);
  SLIM_CHECK(found != where_.end(), "checkpoint ",
             index_path_.empty() ? (files_.empty() ? std::string("?") : files_.front()->path())
                                 : index_path_,
             ": no tensor named ", quote(name));
  return *files_[found->second];
}

const TensorInfo& SafetensorsCheckpoint::info(const std::string& name) const {
  return file_of(name).info(name);
}
at::Tensor SafetensorsCheckpoint::tensor(const std::string& name) const {
  return file_of(name).tensor(name);
}
at::Tensor SafetensorsCheckpoint::raw_bytes(const std::string& name) const {
  return file_of(name).raw_bytes(name);
}
void SafetensorsCheckpoint::release(const std::string& name) const {
  file_of(name).release(name);
}

uint64_t SafetensorsCheckpoint::total_bytes() const {
  uint64_t total = 0;
  for (const auto& name : names_)
    total += info(name).nbytes();
  return total;
}

}  // namespace slim::io
