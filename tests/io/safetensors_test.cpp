#include "slim/io/safetensors.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "slim/core/error.h"
#include "slim/core/files.h"
#include "support/temp_dir.h"

namespace {

using slim::io::Dtype;
using slim::io::SafetensorsCheckpoint;
using slim::io::SafetensorsFile;
using slim::io::SafetensorsWriter;
using slim::io::SafetensorsWriterOptions;
using slim::testing::TempDir;

// Builds a file byte by byte: 8-byte little-endian length, header text, data.
std::string make_file(const std::string& header, const std::string& data,
                      uint64_t declared_length = UINT64_MAX) {
  const uint64_t length = declared_length == UINT64_MAX ? header.size() : declared_length;
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i)
    bytes[i] = static_cast<char>((length >> (8 * i)) & 0xFF);
  return bytes + header + data;
}

std::string write(const TempDir& dir, const std::string& name, const std::string& contents) {
  const std::string path = dir.file(name);
  slim::write_file(path, contents);
  return path;
}

// Expects open() to fail with a message holding every fragment.
void expect_open_error(const std::string& path, std::initializer_list<std::string> fragments) {
  try {
    SafetensorsCheckpoint::open(path);
    ADD_FAILURE() << "opening " << path << " did not fail";
  } catch (const slim::Error& error) {
    const std::string message = error.what();
    for (const auto& fragment : fragments) {
      EXPECT_NE(message.find(fragment), std::string::npos)
          << "message '" << message << "' lacks '" << fragment << "'";
    }
  }
}

const std::string kTwoFloats(8, '\0');

TEST(SafetensorsReader, ReadsEveryAtenDtypeZeroCopy) {
  TempDir dir;
  SafetensorsWriter writer(dir.path());
  std::vector<at::Tensor> tensors = {
      at::randn({3, 5}, at::kDouble),
      at::randn({4, 2}),
      at::randn({7}).to(at::kHalf),
      at::randn({2, 3}).to(at::kBFloat16),
      at::randint(-100, 100, {5}, at::kLong),
      at::randint(-100, 100, {5}, at::kInt),
      at::randint(-100, 100, {3}, at::kShort),
      at::randint(-100, 100, {9}, at::kChar),
      at::randint(0, 255, {6}, at::kByte),
      at::randint(0, 2, {4}, at::kByte).to(at::kBool),
  };
  for (size_t i = 0; i < tensors.size(); ++i)
    writer.add("t" + std::to_string(i), tensors[i]);
  writer.finish();

  const auto checkpoint = SafetensorsCheckpoint::open(dir.path());
  ASSERT_EQ(checkpoint.names().size(), tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    const at::Tensor loaded = checkpoint.tensor("t" + std::to_string(i));
    EXPECT_EQ(loaded.scalar_type(), tensors[i].scalar_type()) << i;
    EXPECT_TRUE(at::equal(loaded, tensors[i])) << i;
  }
}

TEST(SafetensorsReader, ZeroCopyViewPointsIntoTheMapping) {
  TempDir dir;
  const std::string header = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  // Pad the header so the data section is 8-byte aligned.
  const std::string padded = header + std::string((8 - header.size() % 8) % 8, ' ');
  const float values[2] = {1.5f, -2.0f};
  const auto path = write(dir, "a.safetensors",
                          make_file(padded, std::string(reinterpret_cast<const char*>(values), 8)));
  const auto file = SafetensorsFile::open(path);
  const at::Tensor view = file->tensor("a");
  EXPECT_EQ(view.data_ptr(), static_cast<const void*>(file->data(file->info("a"))));
  EXPECT_FLOAT_EQ(view[1].item<float>(), -2.0f);
  // Writing into the view is copy-on-write: the file stays unchanged.
  view.fill_(7.0f);
  EXPECT_FLOAT_EQ(SafetensorsFile::open(path)->tensor("a")[0].item<float>(), 1.5f);
}

// release() drops the process's pages of a tensor spanning whole pages; reading it again faults
// them back in from the file (so an in-place change made before the release is gone).
TEST(SafetensorsReader, ReleasedTensorReadsBackFromTheFile) {
  TempDir dir;
  SafetensorsWriter writer(dir.path());
  const at::Tensor big = at::arange(0, 1 << 16, at::kFloat);  // 256 KiB: many whole pages
  writer.add("small", at::ones({3}));
  writer.add("big", big);
  writer.finish();
  const auto checkpoint = SafetensorsCheckpoint::open(dir.path());
  at::Tensor view = checkpoint.tensor("big");
  ASSERT_TRUE(at::equal(view, big));
  view.fill_(-1.0f);  // private (copy-on-write) pages
  checkpoint.release("big");
  checkpoint.release("small");  // smaller than a page: nothing to drop, no effect
  const at::Tensor again = checkpoint.tensor("big");
  // Whole pages inside the tensor came back from the file; the partial pages at its two ends
  // were not dropped.
  const int64_t differing = again.ne(big).sum().item<int64_t>();
  EXPECT_LT(differing, 2 * 4096 / 4);
  EXPECT_TRUE(at::equal(again.narrow(0, 2048, 1 << 15), big.narrow(0, 2048, 1 << 15)));
  EXPECT_TRUE(at::equal(checkpoint.tensor("small"), at::ones({3})));
}

TEST(SafetensorsReader, MisalignedTensorIsCopiedCorrectly) {
  TempDir dir;
  SafetensorsWriter writer(dir.path());
  writer.add("byte", at::ones({3}, at::kByte));  // pushes the next tensor off 4-byte alignment
  const at::Tensor floats = at::randn({5});
  writer.add("floats", floats);
  writer.finish();
  EXPECT_TRUE(at::equal(SafetensorsCheckpoint::open(dir.path()).tensor("floats"), floats));
}

TEST(SafetensorsReader, Float8IsRawBytesWithDtypeRecorded) {
  TempDir dir;
  const std::string header =
      R"({"__metadata__":{"format":"pt"},"e4":{"dtype":"F8_E4M3","shape":[2,2],"data_offsets":[0,4]},)"
      R"("e5":{"dtype":"F8_E5M2","shape":[3],"data_offsets":[4,7]},"u16":{"dtype":"U16","shape":[1],"data_offsets":[7,9]}})";
  const auto path =
      write(dir, "f8.safetensors", make_file(header, "\x01\x02\x03\x04\x05\x06\x07\x08\x09"));
  const auto file = SafetensorsFile::open(path);
  EXPECT_EQ(file->info("e4").dtype, Dtype::F8_E4M3);
  EXPECT_EQ(file->info("e5").dtype, Dtype::F8_E5M2);
  const at::Tensor e4 = file->tensor("e4");
  EXPECT_EQ(e4.scalar_type(), at::kByte);
  EXPECT_EQ(e4.sizes(), (at::IntArrayRef{2, 2}));
  EXPECT_EQ(e4[1][1].item<int>(), 4);
  EXPECT_EQ(file->raw_bytes("e5")[2].item<int>(), 7);
  EXPECT_EQ(file->metadata().at("format"), "pt");
  // No ATen type for U16: tensor() refuses, raw_bytes() works.
  EXPECT_THROW(file->tensor("u16"), slim::Error);
  EXPECT_EQ(file->raw_bytes("u16").numel(), 2);
}

TEST(SafetensorsReader, EmptyAndZeroSizedTensors) {
  TempDir dir;
  const std::string header =
      R"({"z":{"dtype":"F32","shape":[0,4],"data_offsets":[0,0]},"s":{"dtype":"F32","shape":[],"data_offsets":[0,4]}})";
  const auto path = write(dir, "z.safetensors", make_file(header, std::string(4, '\0')));
  const auto file = SafetensorsFile::open(path);
  EXPECT_EQ(file->tensor("z").numel(), 0);
  EXPECT_EQ(file->tensor("s").dim(), 0);
}

// ------------------------------------------------------------------ bad input, one case each

TEST(SafetensorsBadInput, FileShorterThanLengthPrefix) {
  TempDir dir;
  expect_open_error(write(dir, "short.safetensors", "abc"), {"short.safetensors", "8-byte"});
}

TEST(SafetensorsBadInput, HeaderLengthBeyondFile) {
  TempDir dir;
  const auto path = write(dir, "long.safetensors", make_file("{}", "", 1000));
  expect_open_error(path, {"long.safetensors", "header length 1000", "beyond the end"});
}

TEST(SafetensorsBadInput, HugeHeaderLengthDoesNotOverflow) {
  TempDir dir;
  const auto path = write(dir, "huge.safetensors", make_file("{}", "", UINT64_MAX - 3));
  expect_open_error(path, {"huge.safetensors", "beyond the end"});
}

TEST(SafetensorsBadInput, HeaderNotJson) {
  TempDir dir;
  const auto path = write(dir, "bad.safetensors", make_file("{not json", ""));
  expect_open_error(path, {"bad.safetensors", "not valid JSON"});
}

TEST(SafetensorsBadInput, HeaderNotAnObject) {
  TempDir dir;
  expect_open_error(write(dir, "arr.safetensors", make_file("[1,2]", "")), {"not a JSON object"});
}

TEST(SafetensorsBadInput, OffsetsOutOfRange) {
  TempDir dir;
  const auto path =
      write(dir, "range.safetensors",
            make_file(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", kTwoFloats));
  expect_open_error(path, {"range.safetensors", "'w'", "out of range", "8 bytes"});
}

TEST(SafetensorsBadInput, OverlappingRanges) {
  TempDir dir;
  const auto path = write(dir, "overlap.safetensors",
                          make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                    R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                                    kTwoFloats));
  expect_open_error(path, {"overlap.safetensors", "'b'", "overlap"});
}

TEST(SafetensorsBadInput, HoleBetweenRanges) {
  TempDir dir;
  const auto path = write(dir, "hole.safetensors",
                          make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                                    R"("b":{"dtype":"U8","shape":[2],"data_offsets":[6,8]}})",
                                    kTwoFloats));
  expect_open_error(path, {"hole.safetensors", "'b'", "no holes"});
}

TEST(SafetensorsBadInput, TrailingBytesNotCovered) {
  TempDir dir;
  const auto path =
      write(dir, "trail.safetensors",
            make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", kTwoFloats));
  expect_open_error(path, {"trail.safetensors", "cover only 4"});
}

TEST(SafetensorsBadInput, ReversedRange) {
  TempDir dir;
  const auto path =
      write(dir, "rev.safetensors",
            make_file(R"({"a":{"dtype":"U8","shape":[0],"data_offsets":[8,0]}})", kTwoFloats));
  expect_open_error(path, {"rev.safetensors", "'a'", "reversed"});
}

TEST(SafetensorsBadInput, UnknownDtype) {
  TempDir dir;
  const auto path =
      write(dir, "dtype.safetensors",
            make_file(R"({"a":{"dtype":"F12","shape":[2],"data_offsets":[0,8]}})", kTwoFloats));
  expect_open_error(path, {"dtype.safetensors", "'a'", "unknown dtype 'F12'", "BF16"});
}

TEST(SafetensorsBadInput, ShapeTimesDtypeDisagreesWithRange) {
  TempDir dir;
  const auto path =
      write(dir, "size.safetensors",
            make_file(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", kTwoFloats));
  expect_open_error(path, {"size.safetensors", "'a'", "needs 12 bytes", "hold 8"});
}

TEST(SafetensorsBadInput, ShapeOverflow) {
  TempDir dir;
  const auto path = write(
      dir, "ovf.safetensors",
      make_file(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})",
                kTwoFloats));
  expect_open_error(path, {"ovf.safetensors", "'a'", "overflows"});
}

TEST(SafetensorsBadInput, NegativeShape) {
  TempDir dir;
  const auto path =
      write(dir, "neg.safetensors",
            make_file(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", kTwoFloats));
  expect_open_error(path, {"neg.safetensors", "'a'", "non-negative"});
}

TEST(SafetensorsBadInput, MissingKeys) {
  TempDir dir;
  const auto path = write(dir, "keys.safetensors",
                          make_file(R"({"a":{"shape":[2],"data_offsets":[0,8]}})", kTwoFloats));
  expect_open_error(path, {"keys.safetensors", "'a'", "'dtype'"});
}

TEST(SafetensorsBadInput, DuplicateNameInHeader) {
  TempDir dir;
  const auto path = write(dir, "dup.safetensors",
                          make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                                    R"("a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                                    kTwoFloats));
  expect_open_error(path, {"dup.safetensors", "'a'", "more than once"});
}

TEST(SafetensorsBadInput, DuplicateNameAcrossFiles) {
  TempDir dir;
  const std::string one = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  write(dir, "x.safetensors", make_file(one, kTwoFloats));
  write(dir, "y.safetensors", make_file(one, kTwoFloats));
  expect_open_error(dir.path(), {"'a'", "stored twice", "x.safetensors", "y.safetensors"});
}

TEST(SafetensorsBadInput, MetadataNotStrings) {
  TempDir dir;
  const auto path = write(dir, "meta.safetensors", make_file(R"({"__metadata__":{"n":3}})", ""));
  expect_open_error(path, {"meta.safetensors", "__metadata__", "'n'"});
}

TEST(SafetensorsBadInput, IndexNamesMissingShard) {
  TempDir dir;
  write(dir, "model.safetensors.index.json",
        R"({"metadata":{"total_size":8},"weight_map":{"a":"model-00001-of-00002.safetensors"}})");
  expect_open_error(dir.path(), {"model.safetensors.index.json", "model-00001-of-00002.safetensors",
                                 "'a'", "does not exist"});
}

TEST(SafetensorsBadInput, IndexTensorMissingFromShard) {
  TempDir dir;
  write(dir, "s1.safetensors",
        make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", kTwoFloats));
  write(dir, "model.safetensors.index.json",
        R"({"weight_map":{"a":"s1.safetensors","b":"s1.safetensors"}})");
  expect_open_error(dir.path(),
                    {"model.safetensors.index.json", "'b'", "s1.safetensors", "does not contain"});
}

TEST(SafetensorsBadInput, IndexNotJsonOrNoWeightMap) {
  TempDir dir;
  write(dir, "model.safetensors.index.json", R"({"metadata":{}})");
  expect_open_error(dir.path(), {"model.safetensors.index.json", "weight_map"});
  write(dir, "model.safetensors.index.json", "{oops");
  expect_open_error(dir.path(), {"model.safetensors.index.json", "not valid JSON"});
}

TEST(SafetensorsBadInput, DirectoryWithoutCheckpoint) {
  TempDir dir;
  expect_open_error(dir.path(), {dir.path(), "no safetensors checkpoint"});
  expect_open_error(dir.file("absent"), {"no such file"});
}

TEST(SafetensorsBadInput, UnknownTensorNameIsNamed) {
  TempDir dir;
  SafetensorsWriter writer(dir.path());
  writer.add("a", at::ones({1}));
  writer.finish();
  const auto checkpoint = SafetensorsCheckpoint::open(dir.path());
  try {
    checkpoint.tensor("missing");
    FAIL();
  } catch (const slim::Error& error) {
    EXPECT_NE(std::string(error.what()).find("'missing'"), std::string::npos);
  }
}

// ------------------------------------------------------------------------------- writer

TEST(SafetensorsWriter, SingleFileLayoutFollowsTheSpecification) {
  TempDir dir;
  SafetensorsWriterOptions options;
  options.metadata = {{"format", "pt"}};
  SafetensorsWriter writer(dir.path(), options);
  writer.add("b", at::tensor({1.0f, 2.0f}));
  writer.add("a", at::tensor({int16_t{3}}, at::kShort));
  EXPECT_EQ(writer.finish(), (std::vector<std::string>{"model.safetensors"}));
  EXPECT_FALSE(std::filesystem::exists(dir.file("model.safetensors.index.json")));

  const std::string bytes = slim::read_file(dir.file("model.safetensors"));
  uint64_t length = 0;
  for (int i = 7; i >= 0; --i)
    length = (length << 8) | static_cast<unsigned char>(bytes[i]);
  EXPECT_EQ((8 + length) % 8, 0u) << "data section must start 8-byte aligned";
  const std::string header = bytes.substr(8, length);
  // Tensors keep the order given; __metadata__ comes first.
  EXPECT_EQ(
      header.substr(0, header.find_last_not_of(' ') + 1),
      R"({"__metadata__":{"format":"pt"},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
      R"("a":{"dtype":"I16","shape":[1],"data_offsets":[8,10]}})");
  EXPECT_EQ(bytes.size(), 8 + length + 10);
  float first;
  std::memcpy(&first, bytes.data() + 8 + length, 4);
  EXPECT_EQ(first, 1.0f);
  // No temporary files are left behind.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), {}), 1);
}

TEST(SafetensorsWriter, ShardsPastTheLimitAndWritesTheIndex) {
  TempDir dir;
  SafetensorsWriterOptions options;
  options.max_shard_bytes = 100;
  SafetensorsWriter writer(dir.path(), options);
  std::map<std::string, at::Tensor> written;
  // 40 bytes each: two fit in a shard, the third starts a new one; a 400-byte tensor gets its own.
  for (int i = 0; i < 5; ++i)
    written["w" + std::to_string(i)] = at::randn({10});
  written["big"] = at::randn({100});
  for (const char* name : {"w0", "w1", "w2", "big", "w3", "w4"})
    writer.add(name, written[name]);
  const auto files = writer.finish();
  ASSERT_EQ(files.size(), 5u);
  EXPECT_EQ(files[0], "model-00001-of-00004.safetensors");
  EXPECT_EQ(files[3], "model-00004-of-00004.safetensors");
  EXPECT_EQ(files[4], "model.safetensors.index.json");

  const auto index = nlohmann::json::parse(slim::read_file(dir.file(files[4])));
  EXPECT_EQ(index["metadata"]["total_size"].get<uint64_t>(), 5 * 40 + 400u);
  EXPECT_EQ(index["weight_map"]["w0"], "model-00001-of-00004.safetensors");
  EXPECT_EQ(index["weight_map"]["w1"], "model-00001-of-00004.safetensors");
  EXPECT_EQ(index["weight_map"]["w2"], "model-00002-of-00004.safetensors");
  EXPECT_EQ(index["weight_map"]["big"], "model-00003-of-00004.safetensors");
  EXPECT_EQ(index["weight_map"]["w4"], "model-00004-of-00004.safetensors");

  const auto checkpoint = SafetensorsCheckpoint::open(dir.path());
  EXPECT_EQ(checkpoint.files().size(), 4u);
  EXPECT_EQ(checkpoint.index_metadata().at("total_size"), "600");
  for (const auto& [name, tensor] : written) {
    EXPECT_TRUE(at::equal(checkpoint.tensor(name), tensor)) << name;
  }
}

TEST(SafetensorsWriter, CustomBasenameAndAlwaysIndex) {
  TempDir dir;
  SafetensorsWriterOptions options;
  options.basename = "quant_model_weights";
  options.always_index = true;
  SafetensorsWriter writer(dir.path(), options);
  writer.add("x", at::zeros({2}, at::kChar));
  const auto files = writer.finish();
  EXPECT_EQ(files, (std::vector<std::string>{"quant_model_weights-00001-of-00001.safetensors",
                                             "quant_model_weights.safetensors.index.json"}));
  EXPECT_EQ(SafetensorsCheckpoint::open(dir.file(files[1])).tensor("x").scalar_type(), at::kChar);
}

TEST(SafetensorsWriter, RejectsDuplicatesAndBadSizes) {
  TempDir dir;
  SafetensorsWriter writer(dir.path());
  writer.add("a", at::ones({2}));
  EXPECT_THROW(writer.add("a", at::ones({2})), slim::Error);
  const char bytes[3] = {0, 0, 0};
  EXPECT_THROW(writer.add_raw("r", Dtype::F32, {1}, bytes, 3), slim::Error);
  EXPECT_THROW(writer.add("c", at::ones({2}, at::kComplexFloat)), slim::Error);
}

TEST(SafetensorsWriter, UnfinishedWriterLeavesNothing) {
  TempDir dir;
  {
    SafetensorsWriter writer(dir.path(), {"model", 16, false, {}});
    writer.add("a", at::ones({4}));
    writer.add("b", at::ones({4}));
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

TEST(SafetensorsWriter, NonContiguousAndRawInputs) {
  TempDir dir;
  SafetensorsWriter writer(dir.path());
  const at::Tensor base = at::arange(12, at::kFloat).reshape({3, 4});
  writer.add("t", base.t());
  const uint8_t fp8[4] = {0x38, 0x40, 0xB8, 0x7E};
  writer.add_raw("f8", Dtype::F8_E4M3, {2, 2}, fp8, 4);
  writer.finish();
  const auto checkpoint = SafetensorsCheckpoint::open(dir.file("model.safetensors"));
  EXPECT_TRUE(at::equal(checkpoint.tensor("t"), base.t()));
  EXPECT_EQ(checkpoint.info("f8").dtype, Dtype::F8_E4M3);
  EXPECT_EQ(checkpoint.tensor("f8")[1][1].item<int>(), 0x7E);
}

}  // namespace
