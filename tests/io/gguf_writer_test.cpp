// GgufWriter, read back with the GGUF reader (and, for the layout, byte by byte).
#include "slim/io/gguf_writer.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "slim/core/files.h"
#include "slim/io/gguf.h"
#include "support/expect_error.h"
#include "support/temp_dir.h"

namespace {

using slim::io::GgmlType;
using slim::io::GgufFile;
using slim::io::GgufType;
using slim::io::GgufWriter;
using slim::io::GgufWriterOptions;
using slim::testing::TempDir;
namespace fs = std::filesystem;

// Files in `dir` other than `keep`: an unfinished writer must leave no temporary behind.
std::vector<std::string> other_files(const TempDir& dir, const std::string& keep = "") {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir.path())) {
    if (entry.path().filename() != keep) names.push_back(entry.path().filename().string());
  }
  return names;
}

uint64_t load_u64(const std::string& bytes, size_t at) {
  uint64_t value = 0;
  for (int i = 7; i >= 0; --i)
    value = (value << 8) | static_cast<uint8_t>(bytes[at + i]);
  return value;
}

TEST(GgufWriter, EveryMetadataTypeRoundTrips) {
  TempDir dir;
  const std::string path = dir.file("meta.gguf");
  {
    GgufWriter out(path);
    out.set_u8("u8", 200);
    out.set_i8("i8", -2);
    out.set_u16("u16", 60000);
    out.set_i16("i16", -3);
    out.set_u32("u32", 4000000000u);
    out.set_i32("i32", -7);
    out.set_u64("u64", 1ull << 40);
    out.set_i64("i64", -5);
    out.set_f32("f32", 1.5f);
    out.set_f64("f64", -2.25);
    out.set_bool("bool", true);
    out.set_bool("false", false);
    out.set_string("str", "h\xC3\xA9llo");
    out.set_string("empty", "");
    out.set_array_u8("a.u8", {0, 255});
    out.set_array_int("a.i8", GgufType::INT8, {-128, 127});
    out.set_array_int("a.u16", GgufType::UINT16, {7, 65535});
    out.set_array_int("a.i16", GgufType::INT16, {-32768, 5});
    out.set_array_int("a.u32", GgufType::UINT32, {0, 4294967295ll});
    out.set_array_i32("a.i32", {1, -2, 3});
    out.set_array_int("a.u64", GgufType::UINT64, {1ll << 50});
    out.set_array_int("a.i64", GgufType::INT64, {-(1ll << 50), 9});
    out.set_array_f32("a.f32", {-1.0f, 0.25f});
    out.set_array_f64("a.f64", {0.5, -8.0, 3.0});
    out.set_array_bool("a.bool", {true, false, true});
    out.set_array_strings("a.str", {"a", "", "<0x0A>", "\xC4\xA0the"});
    out.set_array_strings("a.empty", {});
    EXPECT_TRUE(out.has_key("a.str"));
    EXPECT_EQ(out.key_count(), 28u);  // general.alignment included
    out.finish();
  }
  const auto file = GgufFile::open(path);
  EXPECT_EQ(file->version(), 3u);
  ASSERT_EQ(file->keys().size(), 28u);
  EXPECT_EQ(file->keys()[0], "general.alignment");
  EXPECT_EQ(file->keys()[1], "u8");
  EXPECT_EQ(file->get_u32("general.alignment"), 32u);
  EXPECT_EQ(file->type_of("u8"), GgufType::UINT8);
  EXPECT_EQ(file->get_int("u8"), 200);
  EXPECT_EQ(file->type_of("i8"), GgufType::INT8);
  EXPECT_EQ(file->get_int("i8"), -2);
  EXPECT_EQ(file->type_of("u16"), GgufType::UINT16);
  EXPECT_EQ(file->get_int("u16"), 60000);
  EXPECT_EQ(file->type_of("i16"), GgufType::INT16);
  EXPECT_EQ(file->get_int("i16"), -3);
  EXPECT_EQ(file->get_u32("u32"), 4000000000u);
  EXPECT_EQ(file->get_i32("i32"), -7);
  EXPECT_EQ(file->get_u64("u64"), 1ull << 40);
  EXPECT_EQ(file->type_of("i64"), GgufType::INT64);
  EXPECT_EQ(file->get_int("i64"), -5);
  EXPECT_EQ(file->get_f32("f32"), 1.5f);
  EXPECT_EQ(file->type_of("f64"), GgufType::FLOAT64);
  EXPECT_TRUE(file->get_bool("bool"));
  EXPECT_FALSE(file->get_bool("false"));
  EXPECT_EQ(file->get_string("str"), "h\xC3\xA9llo");
  EXPECT_EQ(file->get_string("empty"), "");
  EXPECT_EQ(file->get_array_u8("a.u8"), (std::vector<uint8_t>{0, 255}));
  EXPECT_EQ(file->array_type_of("a.i8"), GgufType::INT8);
  EXPECT_EQ(file->get_array_int("a.i8"), (std::vector<int64_t>{-128, 127}));
  EXPECT_EQ(file->array_type_of("a.u16"), GgufType::UINT16);
  EXPECT_EQ(file->get_array_int("a.u16"), (std::vector<int64_t>{7, 65535}));
  EXPECT_EQ(file->get_array_int("a.i16"), (std::vector<int64_t>{-32768, 5}));
  EXPECT_EQ(file->get_array_int("a.u32"), (std::vector<int64_t>{0, 4294967295ll}));
  EXPECT_EQ(file->get_array_i32("a.i32"), (std::vector<int32_t>{1, -2, 3}));
  EXPECT_EQ(file->array_type_of("a.u64"), GgufType::UINT64);
  EXPECT_EQ(file->get_array_int("a.u64"), (std::vector<int64_t>{1ll << 50}));
  EXPECT_EQ(file->get_array_int("a.i64"), (std::vector<int64_t>{-(1ll << 50), 9}));
  EXPECT_EQ(file->get_array_f32("a.f32"), (std::vector<float>{-1.0f, 0.25f}));
  EXPECT_EQ(file->array_type_of("a.f64"), GgufType::FLOAT64);
  EXPECT_EQ(file->array_size("a.f64"), 3u);
  EXPECT_EQ(file->array_type_of("a.bool"), GgufType::BOOL);
  EXPECT_EQ(file->array_size("a.bool"), 3u);
  EXPECT_EQ(file->get_array_strings("a.str"),
            (std::vector<std::string>{"a", "", "<0x0A>", "\xC4\xA0the"}));
  EXPECT_EQ(file->array_type_of("a.empty"), GgufType::STRING);
  EXPECT_EQ(file->array_size("a.empty"), 0u);
  EXPECT_TRUE(file->tensors().empty());
}

TEST(GgufWriter, Float64AndBoolArraysAreLittleEndianBytes) {
  // The reader has no getter for these: look at the bytes after the key.
  TempDir dir;
  const std::string path = dir.file("f64.gguf");
  {
    GgufWriter out(path);
    out.set_f64("x", -2.25);
    out.set_array_bool("b", {true, false});
    out.finish();
  }
  const std::string bytes = slim::read_file(path);
  const size_t x = bytes.find("x\x0C\x00\x00\x00", 0, 5);  // key "x", type FLOAT64 = 12
  ASSERT_NE(x, std::string::npos);
  double value;
  const uint64_t bits = load_u64(bytes, x + 5);
  std::memcpy(&value, &bits, 8);
  EXPECT_EQ(value, -2.25);
  const size_t b = bytes.find(std::string("b\x09\x00\x00\x00\x07\x00\x00\x00", 9));
  ASSERT_NE(b, std::string::npos);  // key "b", ARRAY of BOOL
  EXPECT_EQ(load_u64(bytes, b + 9), 2u);
  EXPECT_EQ(bytes.substr(b + 17, 2), std::string("\x01\x00", 2));
}

TEST(GgufWriter, TensorsAreAlignedPaddedAndInGgmlOrder) {
  TempDir dir;
  const std::string path = dir.file("t.gguf");
  const at::Tensor matrix = at::arange(15, at::kFloat).reshape({3, 5});  // 60 bytes
  const at::Tensor half = at::arange(7, at::kFloat).to(at::kHalf);       // 14 bytes
  const at::Tensor brain = at::linspace(-1, 1, 4, at::kFloat).to(at::kBFloat16);
  {
    GgufWriter out(path);
    out.set_string("general.architecture", "test");
    EXPECT_EQ(out.add_tensor_info("matrix", GgmlType::F32, {3, 5}), 60u);
    EXPECT_EQ(out.add_tensor_info("half", GgmlType::F16, {7}), 14u);
    EXPECT_EQ(out.add_tensor_info("brain", GgmlType::BF16, {2, 1, 2}), 8u);
    out.write_header();
    out.write_tensor("matrix", matrix);
    out.write_tensor("half", half);
    out.write_tensor("brain", brain.reshape({2, 1, 2}));
    out.finish();
  }
  const auto file = GgufFile::open(path);
  EXPECT_EQ(file->alignment(), 32u);
  EXPECT_EQ(file->data_offset() % 32, 0u);
  const auto& m = file->tensor("matrix");
  EXPECT_EQ(m.dims, (std::vector<int64_t>{5, 3}));  // ne[0] = columns
  EXPECT_EQ(m.offset, 0u);
  EXPECT_EQ(std::memcmp(file->tensor_data(m), matrix.data_ptr(), 60), 0);
  const auto& h = file->tensor("half");
  EXPECT_EQ(h.type, GgmlType::F16);
  EXPECT_EQ(h.offset, 64u);  // 60 rounded up to 32
  EXPECT_EQ(std::memcmp(file->tensor_data(h), half.data_ptr(), 14), 0);
  const auto& b = file->tensor("brain");
  EXPECT_EQ(b.type, GgmlType::BF16);
  EXPECT_EQ(b.dims, (std::vector<int64_t>{2, 1, 2}));
  EXPECT_EQ(b.offset, 96u);
  EXPECT_EQ(std::memcmp(file->tensor_data(b), brain.data_ptr(), 8), 0);
  // Every tensor's data is padded, the last one too; padding is zeros.
  EXPECT_EQ(fs::file_size(path), file->data_offset() + 128);
  const std::string bytes = slim::read_file(path);
  EXPECT_EQ(bytes.substr(file->data_offset() + 60, 4), std::string(4, '\0'));
  EXPECT_EQ(bytes.substr(file->data_offset() + 104, 24), std::string(24, '\0'));
}

TEST(GgufWriter, CustomAlignment) {
  TempDir dir;
  const std::string path = dir.file("a.gguf");
  GgufWriterOptions options;
  options.alignment = 64;
  {
    GgufWriter out(path, options);
    out.add_tensor_info("a", GgmlType::F32, {3});
    out.add_tensor_info("b", GgmlType::I32, {2});
    out.write_header();
    out.write_tensor("a", at::ones({3}, at::kFloat));
    out.write_tensor("b", at::tensor(std::vector<int32_t>{-1, 7}, at::kInt));
    out.finish();
  }
  const auto file = GgufFile::open(path);
  EXPECT_EQ(file->get_u32("general.alignment"), 64u);
  EXPECT_EQ(file->data_offset() % 64, 0u);
  EXPECT_EQ(file->tensor("b").offset, 64u);
  EXPECT_EQ(file->tensor("b").type, GgmlType::I32);
  EXPECT_EQ(fs::file_size(path), file->data_offset() + 128);
}

TEST(GgufWriter, QuantizedBlocksAsRawBytes) {
  // A block type is written from its encoded bytes: Q8_0 is 34 bytes per 32 elements.
  TempDir dir;
  const std::string path = dir.file("q.gguf");
  const std::string blocks(4 * 34, '\x05');
  {
    GgufWriter out(path);
    EXPECT_EQ(out.add_tensor_info("q", GgmlType::Q8_0, {2, 64}), 136u);
    out.write_header();
    out.write_tensor_data("q", blocks.data(), blocks.size());
    out.finish();
  }
  const auto file = GgufFile::open(path);
  const auto& q = file->tensor("q");
  EXPECT_EQ(q.type, GgmlType::Q8_0);
  EXPECT_EQ(q.dims, (std::vector<int64_t>{64, 2}));
  EXPECT_EQ(q.nbytes, 136u);
  EXPECT_EQ(std::memcmp(file->tensor_data(q), blocks.data(), blocks.size()), 0);
}

TEST(GgufWriter, FileAppearsOnlyWhenFinished) {
  TempDir dir;
  const std::string path = dir.file("out.gguf");
  {
    GgufWriter out(path);
    out.add_tensor_info("a", GgmlType::F32, {2});
    out.write_header();
    EXPECT_FALSE(fs::exists(path));
    EXPECT_EQ(other_files(dir).size(), 1u);  // the temporary, beside the target
    EXPECT_EQ(other_files(dir)[0].rfind("out.gguf.tmp-", 0), 0u);
  }  // destroyed unfinished
  EXPECT_FALSE(fs::exists(path));
  EXPECT_TRUE(other_files(dir).empty());
}

TEST(GgufWriter, OverwriteReplacesAnExistingFile) {
  TempDir dir;
  const std::string path = dir.file("out.gguf");
  slim::write_file(path, "old");
  GgufWriterOptions options;
  options.overwrite = true;
  GgufWriter out(path, options);
  out.set_string("k", "v");
  out.finish();
  EXPECT_EQ(GgufFile::open(path)->get_string("k"), "v");
  EXPECT_TRUE(other_files(dir, "out.gguf").empty());
}

// ------------------------------------------------------------------------------- bad usage

TEST(GgufWriter, RefusesAnExistingFileWithoutOverwrite) {
  TempDir dir;
  const std::string path = dir.file("out.gguf");
  slim::write_file(path, "old");
  EXPECT_ERROR_WITH(GgufWriter out(path), "out.gguf", "exists", "--overwrite");
  EXPECT_EQ(slim::read_file(path), "old");
}

TEST(GgufWriter, RefusesADirectoryAsTarget) {
  TempDir dir;
  EXPECT_ERROR_WITH(GgufWriter out(dir.path()), dir.path(), "is a directory");
}

TEST(GgufWriter, RefusesAlignmentThatIsNotAPowerOfTwo) {
  TempDir dir;
  GgufWriterOptions options;
  options.alignment = 24;
  EXPECT_ERROR_WITH(GgufWriter out(dir.file("x.gguf"), options), "alignment 24",
                    "not a power of two");
}

TEST(GgufWriter, RefusesAKeySetTwice) {
  TempDir dir;
  GgufWriter out(dir.file("x.gguf"));
  out.set_u32("k", 1);
  EXPECT_ERROR_WITH(out.set_string("k", "v"), "x.gguf", "'k'", "set twice");
}

TEST(GgufWriter, RefusesIntegerArrayValuesOutOfRange) {
  TempDir dir;
  GgufWriter out(dir.file("x.gguf"));
  EXPECT_ERROR_WITH(out.set_array_int("small", GgufType::UINT8, {1, 256}), "'small'", "element 1",
                    "(256)", "does not fit uint8");
  EXPECT_FALSE(out.has_key("small"));
}

TEST(GgufWriter, RefusesATensorAddedTwice) {
  TempDir dir;
  GgufWriter out(dir.file("x.gguf"));
  out.add_tensor_info("w", GgmlType::F32, {4});
  EXPECT_ERROR_WITH(out.add_tensor_info("w", GgmlType::F32, {4}), "tensor 'w'", "added twice");
}

TEST(GgufWriter, RefusesBadShapes) {
  TempDir dir;
  GgufWriter out(dir.file("x.gguf"));
  EXPECT_ERROR_WITH(out.add_tensor_info("five", GgmlType::F32, {1, 1, 1, 1, 1}), "'five'",
                    "5 dimensions");
  EXPECT_ERROR_WITH(out.add_tensor_info("none", GgmlType::F32, {}), "'none'", "0 dimensions");
  EXPECT_ERROR_WITH(out.add_tensor_info("zero", GgmlType::F32, {3, 0}), "'zero'",
                    "invalid shape [3, 0]");
}

TEST(GgufWriter, RefusesTypesWithoutAKnownLayout) {
  TempDir dir;
  GgufWriter out(dir.file("x.gguf"));
  EXPECT_ERROR_WITH(out.add_tensor_info("iq", GgmlType::IQ2_XXS, {256}), "'iq'", "iq2_xxs",
                    "block layout is not implemented");
}

TEST(GgufWriter, RefusesRowsThatAreNotWholeBlocks) {
  TempDir dir;
  GgufWriter out(dir.file("x.gguf"));
  EXPECT_ERROR_WITH(out.add_tensor_info("q", GgmlType::Q8_0, {32, 48}), "'q'",
                    "innermost dimension 48", "q8_0 block size 32");
}

TEST(GgufWriter, RefusesDataOfTheWrongSize) {
  TempDir dir;
  GgufWriter out(dir.file("x.gguf"));
  out.add_tensor_info("w", GgmlType::F32, {4});
  out.write_header();
  const std::vector<float> three(3);
  EXPECT_ERROR_WITH(out.write_tensor_data("w", three.data(), 12), "tensor 'w'", "12 bytes given",
                    "need 16");
}

TEST(GgufWriter, RefusesTensorsOutOfOrder) {
  TempDir dir;
  GgufWriter out(dir.file("x.gguf"));
  out.add_tensor_info("first", GgmlType::F32, {1});
  out.add_tensor_info("second", GgmlType::F32, {1});
  out.write_header();
  EXPECT_ERROR_WITH(out.write_tensor("second", at::ones({1})), "'second' written where 'first'",
                    "order added");
}

TEST(GgufWriter, RefusesATensorOfAnotherDtype) {
  TempDir dir;
  GgufWriter out(dir.file("x.gguf"));
  out.add_tensor_info("w", GgmlType::F16, {4});
  out.write_header();
  EXPECT_ERROR_WITH(out.write_tensor("w", at::ones({4}, at::kFloat)), "tensor 'w'",
                    "has dtype Float", "f16 stores Half");
}

TEST(GgufWriter, RefusesATensorOfAnotherSize) {
  TempDir dir;
  GgufWriter out(dir.file("x.gguf"));
  out.add_tensor_info("w", GgmlType::F32, {2, 3});
  out.write_header();
  EXPECT_ERROR_WITH(out.write_tensor("w", at::ones({5})), "tensor 'w' has 5 elements",
                    "shape needs 6");
}

TEST(GgufWriter, RefusesToFinishWithTensorsMissing) {
  TempDir dir;
  const std::string path = dir.file("x.gguf");
  {
    GgufWriter out(path);
    out.add_tensor_info("a", GgmlType::F32, {1});
    out.add_tensor_info("b", GgmlType::F32, {1});
    out.write_header();
    out.write_tensor("a", at::ones({1}));
    EXPECT_ERROR_WITH(out.finish(), "x.gguf", "only 1 of 2 tensors", "next: 'b'");
  }
  EXPECT_FALSE(fs::exists(path));
  EXPECT_TRUE(other_files(dir).empty());
}

}  // namespace
