#include "slim/io/gguf.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "slim/core/error.h"
#include "slim/core/files.h"
#include "support/assets.h"
#include "support/expect_error.h"
#include "support/gguf_bytes.h"
#include "support/temp_dir.h"

namespace {

using slim::io::GgmlType;
using slim::io::GgufFile;
using slim::io::GgufType;
using slim::testing::TempDir;
using Bytes = slim::testing::GgufBytes;

std::string write(const TempDir& dir, const std::string& name, const std::string& contents) {
  const std::string path = dir.file(name);
  slim::write_file(path, contents);
  return path;
}

std::shared_ptr<GgufFile> open_bytes(const TempDir& dir, const Bytes& bytes,
                                     const std::string& name = "t.gguf") {
  return GgufFile::open(write(dir, name, bytes.str()));
}

// A file with one metadata entry of every type and two tensors (F32, BF16); alignment 16.
Bytes full_file() {
  Bytes b;
  b.header(2, 18);
  b.text("u8").type(GgufType::UINT8).u8(200);
  b.text("i8").type(GgufType::INT8).u8(0xFE);
  b.text("u16").type(GgufType::UINT16).u16(60000);
  b.text("i16").type(GgufType::INT16).u16(0xFFFD);
  b.text("u32").type(GgufType::UINT32).u32(4000000000u);
  b.text("i32").type(GgufType::INT32).i32(-7);
  b.text("f32").type(GgufType::FLOAT32).f32(1.5f);
  b.text("bool").type(GgufType::BOOL).u8(1);
  b.text("str").type(GgufType::STRING).text("héllo");
  b.text("u64").type(GgufType::UINT64).u64(1ull << 40);
  b.text("i64").type(GgufType::INT64).u64(static_cast<uint64_t>(-5ll));
  b.text("f64").type(GgufType::FLOAT64).f64(-2.25);
  b.text("general.alignment").type(GgufType::UINT32).u32(16);
  b.text("strings")
      .type(GgufType::ARRAY)
      .type(GgufType::STRING)
      .u64(3)
      .text("a")
      .text("")
      .text("<0x0A>");
  b.text("floats").type(GgufType::ARRAY).type(GgufType::FLOAT32).u64(2).f32(-1.0f).f32(0.25f);
  b.text("ints").type(GgufType::ARRAY).type(GgufType::INT32).u64(3).i32(1).i32(-2).i32(3);
  b.text("bytes").type(GgufType::ARRAY).type(GgufType::UINT8).u64(2).u8(0).u8(255);
  b.text("u16s").type(GgufType::ARRAY).type(GgufType::UINT16).u64(2).u16(7).u16(65535);
  // tensors: "w" F32 [3, 2] at 0 (24 bytes), "b" BF16 [4] at 32 (8 bytes)
  b.text("w").u32(2).u64(3).u64(2).u32(0).u64(0);
  b.text("b").u32(1).u64(4).u32(30).u64(32);
  b.pad_to(16);
  for (int i = 0; i < 6; ++i)
    b.f32(static_cast<float>(i) + 0.5f);
  b.u64(0);                                           // padding to 32
  b.u16(0x3F80).u16(0x4000).u16(0xC040).u16(0x0000);  // bf16 1, 2, -3, 0
  return b;
}

// ------------------------------------------------------------------------------- good files

TEST(GgufReader, ReadsEveryMetadataType) {
  TempDir dir;
  const auto file = open_bytes(dir, full_file());
  EXPECT_EQ(file->version(), 3u);
  EXPECT_EQ(file->keys().size(), 18u);
  EXPECT_EQ(file->keys()[0], "u8");
  EXPECT_EQ(file->get_int("u8"), 200);
  EXPECT_EQ(file->get_int("i8"), -2);
  EXPECT_EQ(file->get_int("u16"), 60000);
  EXPECT_EQ(file->get_int("i16"), -3);
  EXPECT_EQ(file->get_u32("u32"), 4000000000u);
  EXPECT_EQ(file->get_int("u32"), 4000000000ll);
  EXPECT_EQ(file->get_i32("i32"), -7);
  EXPECT_FLOAT_EQ(file->get_f32("f32"), 1.5f);
  EXPECT_TRUE(file->get_bool("bool"));
  EXPECT_EQ(file->get_string("str"), "héllo");
  EXPECT_EQ(file->get_u64("u64"), 1ull << 40);
  EXPECT_EQ(file->get_int("i64"), -5);
  EXPECT_EQ(file->type_of("f64"), GgufType::FLOAT64);
  EXPECT_EQ(file->get_array_strings("strings"), (std::vector<std::string>{"a", "", "<0x0A>"}));
  EXPECT_EQ(file->get_array_f32("floats"), (std::vector<float>{-1.0f, 0.25f}));
  EXPECT_EQ(file->get_array_i32("ints"), (std::vector<int32_t>{1, -2, 3}));
  EXPECT_EQ(file->get_array_int("ints"), (std::vector<int64_t>{1, -2, 3}));
  EXPECT_EQ(file->get_array_u8("bytes"), (std::vector<uint8_t>{0, 255}));
  EXPECT_EQ(file->get_array_int("u16s"), (std::vector<int64_t>{7, 65535}));
  EXPECT_EQ(file->array_type_of("strings"), GgufType::STRING);
  EXPECT_EQ(file->array_size("ints"), 3u);
}

TEST(GgufReader, OptionalGettersReturnNulloptForMissingKeys) {
  TempDir dir;
  const auto file = open_bytes(dir, full_file());
  EXPECT_FALSE(file->get_string_opt("nope").has_value());
  EXPECT_FALSE(file->get_u32_opt("nope").has_value());
  EXPECT_FALSE(file->get_bool_opt("nope").has_value());
  EXPECT_FALSE(file->get_int_opt("nope").has_value());
  EXPECT_EQ(file->get_string_opt("str"), "héllo");
  EXPECT_EQ(file->get_int_opt("i32"), -7);
  EXPECT_EQ(file->get_f32_opt("f32"), 1.5f);
  EXPECT_EQ(file->get_i32_opt("i32"), -7);
  // A present key of another type is still an error.
  EXPECT_ERROR_WITH(file->get_string_opt("u32"), "t.gguf", "'u32'", "uint32", "expected string");
}

TEST(GgufReader, TensorInfosAndData) {
  TempDir dir;
  const auto file = open_bytes(dir, full_file());
  EXPECT_EQ(file->alignment(), 16u);
  EXPECT_EQ(file->data_offset() % 16, 0u);
  ASSERT_EQ(file->tensors().size(), 2u);
  const auto& w = file->tensor("w");
  EXPECT_EQ(w.dims, (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(w.type, GgmlType::F32);
  EXPECT_EQ(w.numel(), 6);
  EXPECT_EQ(w.nbytes, 24u);
  float values[6];
  std::memcpy(values, file->tensor_data(w), sizeof(values));
  EXPECT_FLOAT_EQ(values[5], 5.5f);
  const auto& b = file->tensor("b");
  EXPECT_EQ(b.type, GgmlType::BF16);
  EXPECT_EQ(b.offset, 32u);
  EXPECT_EQ(b.nbytes, 8u);
  uint16_t bf16[4];
  std::memcpy(bf16, file->tensor_data(b), sizeof(bf16));
  EXPECT_EQ(bf16[2], 0xC040);
  EXPECT_TRUE(file->has_tensor("b"));
  EXPECT_ERROR_WITH(file->tensor("c"), "t.gguf", "no tensor named 'c'");
}

TEST(GgufReader, Version2AndDefaultAlignment) {
  TempDir dir;
  Bytes b;
  b.header(1, 1, 2).text("k").type(GgufType::STRING).text("v");
  b.text("h").u32(1).u64(8).u32(1).u64(0);  // F16 [8]
  b.pad_to(32);
  for (int i = 0; i < 8; ++i)
    b.u16(static_cast<uint16_t>(i));
  const auto file = open_bytes(dir, b);
  EXPECT_EQ(file->version(), 2u);
  EXPECT_EQ(file->alignment(), 32u);
  EXPECT_EQ(file->data_offset(), 96u);  // 79 bytes of header, padded
  EXPECT_EQ(file->tensor("h").nbytes, 16u);
}

TEST(GgufReader, NoTensorsNeedsNoDataSection) {
  TempDir dir;
  Bytes b;
  b.header(0, 1).text("tokenizer.ggml.model").type(GgufType::STRING).text("llama");
  const auto file = open_bytes(dir, b);
  EXPECT_TRUE(file->tensors().empty());
  EXPECT_EQ(file->get_string("tokenizer.ggml.model"), "llama");
}

TEST(GgufReader, QuantizedTypeSizesAndUnimplementedLayouts) {
  TempDir dir;
  Bytes b;
  b.header(2, 0).text("q").u32(2).u64(64).u64(2).u32(8).u64(0);  // Q8_0: 4 blocks of 34 bytes
  b.text("iq").u32(1).u64(256).u32(16).u64(160);                 // IQ2_XXS: size unknown yet
  b.pad_to(32);
  b.chars(std::string(200, '\x01'));
  const auto file = open_bytes(dir, b);
  EXPECT_EQ(file->tensor("q").nbytes, 136u);
  EXPECT_FALSE(file->tensor("iq").nbytes.has_value());
  EXPECT_EQ(slim::io::ggml_type_name(16), "iq2_xxs");
  EXPECT_EQ(slim::io::ggml_type_name(4), "type 4");
}

TEST(GgufReader, MissingKeyNamesFileAndKey) {
  TempDir dir;
  const auto file = open_bytes(dir, full_file(), "vocab.gguf");
  EXPECT_ERROR_WITH(file->get_string("tokenizer.ggml.model"), "vocab.gguf",
                    "'tokenizer.ggml.model'", "missing");
}

TEST(GgufReader, WrongScalarTypeShowsBothTypes) {
  TempDir dir;
  const auto file = open_bytes(dir, full_file(), "vocab.gguf");
  EXPECT_ERROR_WITH(file->get_u32("i32"), "vocab.gguf", "'i32'", "has type int32",
                    "expected uint32");
  EXPECT_ERROR_WITH(file->get_string("strings"), "'strings'", "array of string", "expected string");
  EXPECT_ERROR_WITH(file->get_int("f32"), "'f32'", "float32", "expected an integer");
}

TEST(GgufReader, WrongArrayTypeShowsBothTypes) {
  TempDir dir;
  const auto file = open_bytes(dir, full_file(), "vocab.gguf");
  EXPECT_ERROR_WITH(file->get_array_f32("ints"), "vocab.gguf", "'ints'", "array of int32",
                    "expected array of float32");
  EXPECT_ERROR_WITH(file->get_array_strings("str"), "'str'", "has type string",
                    "expected array of string");
  EXPECT_ERROR_WITH(file->get_array_int("floats"), "'floats'", "array of float32",
                    "expected an array of integers");
}

TEST(GgufReader, Uint64BeyondInt64IsRefusedByGetInt) {
  TempDir dir;
  Bytes b;
  b.header(0, 1).text("big").type(GgufType::UINT64).u64(~0ull);
  const auto file = open_bytes(dir, b);
  EXPECT_EQ(file->get_u64("big"), ~0ull);
  EXPECT_ERROR_WITH(file->get_int("big"), "'big'", "too large");
}

// Every prefix of a valid file is refused with slim::Error, never a crash or a silent success.
TEST(GgufReader, EveryTruncationIsAnError) {
  TempDir dir;
  const Bytes full = full_file();
  const std::string path = dir.file("cut.gguf");
  for (size_t n = 0; n < full.size(); ++n) {
    slim::write_file(path, full.str().substr(0, n));
    EXPECT_THROW(GgufFile::open(path), slim::Error) << "prefix of " << n << " bytes";
  }
}

// Each byte of the file replaced by 0xFF: open() either throws slim::Error naming the file, or
// returns a file whose every key reads back and whose tensors are consistent with the file (bytes
// inside it, aligned offsets, element counts of their dims, found by name). Both happen: a flip in
// a count, type or length is caught, one in a key's text or in the data is a different valid file.
TEST(GgufReader, CorruptedBytesNeverCrash) {
  TempDir dir;
  const Bytes full = full_file();
  const std::string path = dir.file("flip.gguf");
  int rejected = 0;
  int opened = 0;
  for (size_t i = 0; i < full.size(); ++i) {
    SCOPED_TRACE("byte " + std::to_string(i));
    std::string bytes = full.str();
    bytes[i] = static_cast<char>(0xFF);
    slim::write_file(path, bytes);
    std::shared_ptr<GgufFile> file;
    try {
      file = GgufFile::open(path);
      for (const auto& key : file->keys()) {
        ASSERT_TRUE(file->contains(key)) << key;
        if (file->type_of(key) == GgufType::ARRAY && file->array_type_of(key) == GgufType::STRING) {
          EXPECT_EQ(file->get_array_strings(key).size(), file->array_size(key)) << key;
        }
      }
    } catch (const slim::Error& error) {
      EXPECT_NE(std::string(error.what()).find("flip.gguf"), std::string::npos) << error.what();
      ++rejected;
      continue;
    }
    ++opened;
    EXPECT_LE(file->keys().size(), 18u);
    EXPECT_LE(file->tensors().size(), 2u);
    EXPECT_LE(file->data_offset(), bytes.size());
    for (const auto& info : file->tensors()) {
      SCOPED_TRACE("tensor " + info.name);
      ASSERT_TRUE(file->has_tensor(info.name));
      EXPECT_EQ(&file->tensor(info.name), &info);
      EXPECT_EQ(info.offset % file->alignment(), 0u);
      int64_t numel = 1;
      for (const int64_t dim : info.dims) {
        EXPECT_GE(dim, 0);
        numel *= dim;
      }
      EXPECT_EQ(info.numel(), numel);
      if (info.nbytes) {
        EXPECT_LE(file->data_offset() + info.offset + *info.nbytes, bytes.size());
      }
    }
  }
  RecordProperty("rejected", rejected);
  RecordProperty("opened", opened);
  EXPECT_GT(rejected, 0);
  EXPECT_GT(opened, 0);
}

// ----------------------------------------------------------------- bad input, one case each

TEST(GgufBadInput, EmptyFile) {
  TempDir dir;
  EXPECT_ERROR_WITH(GgufFile::open(write(dir, "empty.gguf", "")), "empty.gguf", "not a GGUF file");
}

TEST(GgufBadInput, WrongMagic) {
  TempDir dir;
  Bytes b;
  b.chars("GGML").u32(3).u64(0).u64(0);
  EXPECT_ERROR_WITH(open_bytes(dir, b, "magic.gguf"), "magic.gguf", "magic 'GGUF'");
}

TEST(GgufBadInput, TruncatedVersion) {
  TempDir dir;
  Bytes b;
  b.chars("GGUF").u16(3);
  EXPECT_ERROR_WITH(open_bytes(dir, b), "t.gguf", "truncated", "version", "needs 4 bytes");
}

TEST(GgufBadInput, Version1) {
  TempDir dir;
  Bytes b;
  b.header(0, 0, 1);
  EXPECT_ERROR_WITH(open_bytes(dir, b), "t.gguf", "version 1 is not supported");
}

TEST(GgufBadInput, UnknownVersion) {
  TempDir dir;
  Bytes b;
  b.header(0, 0, 4);
  EXPECT_ERROR_WITH(open_bytes(dir, b), "unsupported GGUF version 4", "supported: 2, 3");
}

TEST(GgufBadInput, BigEndianFile) {
  TempDir dir;
  Bytes b;
  b.chars("GGUF").u32(0x03000000).u64(0).u64(0);
  EXPECT_ERROR_WITH(open_bytes(dir, b), "big-endian");
}

TEST(GgufBadInput, TruncatedTensorCount) {
  TempDir dir;
  Bytes b;
  b.chars("GGUF").u32(3).u32(0);
  EXPECT_ERROR_WITH(open_bytes(dir, b), "truncated", "tensor count");
}

TEST(GgufBadInput, TruncatedMetadataCount) {
  TempDir dir;
  Bytes b;
  b.chars("GGUF").u32(3).u64(0).u16(1);
  EXPECT_ERROR_WITH(open_bytes(dir, b), "truncated", "metadata count");
}

TEST(GgufBadInput, AbsurdMetadataCount) {
  TempDir dir;
  Bytes b;
  b.header(0, 1ull << 60);
  EXPECT_ERROR_WITH(open_bytes(dir, b), "t.gguf", "metadata count 1152921504606846976",
                    "cannot fit");
}

TEST(GgufBadInput, AbsurdTensorCount) {
  TempDir dir;
  Bytes b;
  b.header(~0ull, 0);
  EXPECT_ERROR_WITH(open_bytes(dir, b), "tensor count 18446744073709551615", "cannot fit");
}

TEST(GgufBadInput, KeyLengthBeyondFile) {
  TempDir dir;
  Bytes b;
  b.header(0, 1).u64(1000).chars("abcde");
  EXPECT_ERROR_WITH(open_bytes(dir, b), "key of metadata entry 0", "length 1000",
                    "only 5 bytes remain");
}

TEST(GgufBadInput, EmptyKey) {
  TempDir dir;
  Bytes b;
  b.header(0, 1).text("").type(GgufType::UINT8).u8(1);
  EXPECT_ERROR_WITH(open_bytes(dir, b), "metadata entry 0 has an empty key");
}

TEST(GgufBadInput, DuplicateKey) {
  TempDir dir;
  Bytes b;
  b.header(0, 2).text("k").type(GgufType::UINT8).u8(1).text("k").type(GgufType::UINT8).u8(2);
  EXPECT_ERROR_WITH(open_bytes(dir, b), "'k'", "more than once");
}

TEST(GgufBadInput, TruncatedValueType) {
  TempDir dir;
  Bytes b;
  b.header(0, 1).text("key").u16(0).chars("1234567");  // value type cut short
  Bytes cut;
  cut.chars(b.str().substr(0, 24 + 8 + 3 + 2));
  EXPECT_ERROR_WITH(open_bytes(dir, cut), "truncated", "value type of metadata entry 0", "'key'");
}

TEST(GgufBadInput, UnknownValueType) {
  TempDir dir;
  Bytes b;
  b.header(0, 1).text("key").u32(13).u64(0);
  EXPECT_ERROR_WITH(open_bytes(dir, b), "'key'", "unknown value type 13");
}

TEST(GgufBadInput, TruncatedScalarValue) {
  TempDir dir;
  Bytes b;
  b.header(0, 1).text("k").type(GgufType::UINT64).u32(1);
  b.u8(0).u8(0);  // 6 bytes of 8
  EXPECT_ERROR_WITH(open_bytes(dir, b), "'k'", "1 elements of uint64", "only 6 bytes");
}

TEST(GgufBadInput, StringValueLengthBeyondFile) {
  TempDir dir;
  Bytes b;
  b.header(0, 1).text("k").type(GgufType::STRING).u64(1ull << 62).chars("xy");
  EXPECT_ERROR_WITH(open_bytes(dir, b), "'k'", "length 4611686018427387904", "only 2 bytes remain");
}

TEST(GgufBadInput, UnknownArrayElementType) {
  TempDir dir;
  Bytes b;
  b.header(0, 1).text("arr").type(GgufType::ARRAY).u32(99).u64(0);
  EXPECT_ERROR_WITH(open_bytes(dir, b), "'arr'", "array of unknown type 99");
}

TEST(GgufBadInput, ArrayOfArrays) {
  TempDir dir;
  Bytes b;
  b.header(0, 1).text("arr").type(GgufType::ARRAY).type(GgufType::ARRAY).u64(0);
  EXPECT_ERROR_WITH(open_bytes(dir, b), "'arr'", "array of arrays");
}

TEST(GgufBadInput, TruncatedArrayLength) {
  TempDir dir;
  Bytes b;
  b.header(0, 1).text("arr").type(GgufType::ARRAY).type(GgufType::INT32);
  b.u32(1);  // 4 of the 8 length bytes
  EXPECT_ERROR_WITH(open_bytes(dir, b), "truncated", "array length of metadata entry 0");
}

TEST(GgufBadInput, ArrayCountBeyondFile) {
  TempDir dir;
  Bytes b;
  b.header(0, 1).text("arr").type(GgufType::ARRAY).type(GgufType::FLOAT32).u64(1ull << 61);
  b.f32(1.0f);
  EXPECT_ERROR_WITH(open_bytes(dir, b), "'arr'", "2305843009213693952 elements of float32",
                    "only 4 bytes remain");
}

TEST(GgufBadInput, StringArrayCountBeyondFile) {
  TempDir dir;
  Bytes b;
  b.header(0, 1).text("tokens").type(GgufType::ARRAY).type(GgufType::STRING).u64(1000000);
  b.text("a");
  EXPECT_ERROR_WITH(open_bytes(dir, b), "'tokens'", "1000000 strings", "only 9 bytes");
}

TEST(GgufBadInput, StringInArrayBeyondFile) {
  TempDir dir;
  Bytes b;
  b.header(0, 1).text("tokens").type(GgufType::ARRAY).type(GgufType::STRING).u64(2);
  b.text("a").u64(50).chars("bcd");
  EXPECT_ERROR_WITH(open_bytes(dir, b), "string 1 of metadata entry 0 (key 'tokens')", "length 50",
                    "only 3 bytes remain");
}

TEST(GgufBadInput, BoolNeitherZeroNorOne) {
  TempDir dir;
  Bytes b;
  b.header(0, 1).text("flag").type(GgufType::BOOL).u8(2);
  EXPECT_ERROR_WITH(open_bytes(dir, b), "'flag'", "bool value 2");
}

TEST(GgufBadInput, AlignmentOfWrongType) {
  TempDir dir;
  Bytes b;
  b.header(0, 1).text("general.alignment").type(GgufType::UINT64).u64(32);
  EXPECT_ERROR_WITH(open_bytes(dir, b), "'general.alignment'", "uint64", "expected uint32");
}

TEST(GgufBadInput, AlignmentNotPowerOfTwo) {
  TempDir dir;
  Bytes b;
  b.header(0, 1).text("general.alignment").type(GgufType::UINT32).u32(24);
  EXPECT_ERROR_WITH(open_bytes(dir, b), "'general.alignment' is 24", "not a power of two");
}

TEST(GgufBadInput, AlignmentZero) {
  TempDir dir;
  Bytes b;
  b.header(0, 1).text("general.alignment").type(GgufType::UINT32).u32(0);
  EXPECT_ERROR_WITH(open_bytes(dir, b), "'general.alignment' is 0", "not a power of two");
}

TEST(GgufBadInput, TensorNameBeyondFile) {
  TempDir dir;
  Bytes b;
  b.header(1, 0).u64(77).chars(std::string(30, 'x'));
  EXPECT_ERROR_WITH(open_bytes(dir, b), "name of tensor info 0", "length 77");
}

TEST(GgufBadInput, DuplicateTensorName) {
  TempDir dir;
  Bytes b;
  b.header(2, 0).text("w").u32(1).u64(1).u32(0).u64(0).text("w").u32(1).u64(1).u32(0).u64(32);
  b.pad_to(32).chars(std::string(64, '\0'));
  EXPECT_ERROR_WITH(open_bytes(dir, b), "tensor 'w' appears more than once");
}

TEST(GgufBadInput, TooManyDimensions) {
  TempDir dir;
  Bytes b;
  b.header(1, 0).text("w").u32(5);
  for (int i = 0; i < 5; ++i)
    b.u64(1);
  b.u32(0).u64(0);
  EXPECT_ERROR_WITH(open_bytes(dir, b), "tensor 'w' has 5 dimensions", "at most 4");
}

TEST(GgufBadInput, TruncatedDimensions) {
  TempDir dir;
  Bytes b;
  b.header(1, 0).text("w").u32(3).u64(4).u64(4).u32(0);  // 3rd dimension cut
  EXPECT_ERROR_WITH(open_bytes(dir, b), "truncated", "dimension 2 of tensor 'w'");
}

TEST(GgufBadInput, DimensionsOverflow) {
  TempDir dir;
  Bytes b;
  b.header(1, 0).text("w").u32(2).u64(1ull << 40).u64(1ull << 40).u32(0).u64(0);
  EXPECT_ERROR_WITH(open_bytes(dir, b), "tensor 'w'", "dimension 1", "overflow");
}

TEST(GgufBadInput, UnknownGgmlType) {
  TempDir dir;
  Bytes b;
  b.header(1, 0).text("w").u32(1).u64(4).u32(4).u64(0);  // Q4_2: removed from ggml
  EXPECT_ERROR_WITH(open_bytes(dir, b), "tensor 'w'", "unknown ggml type 4");
}

TEST(GgufBadInput, TruncatedTensorOffset) {
  TempDir dir;
  Bytes b;
  b.header(1, 0).text("w").u32(1).u64(4).u32(0).u32(0);
  EXPECT_ERROR_WITH(open_bytes(dir, b), "truncated", "data offset of tensor 'w'");
}

TEST(GgufBadInput, MisalignedTensorOffset) {
  TempDir dir;
  Bytes b;
  b.header(1, 0).text("w").u32(1).u64(1).u32(0).u64(4);
  b.pad_to(32).chars(std::string(8, '\0'));
  EXPECT_ERROR_WITH(open_bytes(dir, b), "tensor 'w' data offset 4",
                    "not a multiple of the alignment 32");
}

TEST(GgufBadInput, TensorOffsetBeyondFile) {
  TempDir dir;
  Bytes b;
  b.header(1, 0).text("w").u32(1).u64(1).u32(0).u64(1024);
  b.pad_to(32).chars(std::string(4, '\0'));
  EXPECT_ERROR_WITH(open_bytes(dir, b), "tensor 'w' data offset 1024", "beyond the end", "4 bytes");
}

TEST(GgufBadInput, TensorDataBeyondFile) {
  TempDir dir;
  Bytes b;
  b.header(1, 0).text("w").u32(2).u64(4).u64(4).u32(0).u64(0);  // 64 bytes needed
  b.pad_to(32).chars(std::string(60, '\0'));
  EXPECT_ERROR_WITH(open_bytes(dir, b), "tensor 'w'", "64 bytes at data offset 0", "beyond the end",
                    "60 bytes");
}

TEST(GgufBadInput, DataSectionStartsBeyondFile) {
  TempDir dir;
  Bytes b;
  b.header(1, 0).text("w").u32(1).u64(0).u32(0).u64(0);  // header ends at 57, padding to 64
  EXPECT_ERROR_WITH(open_bytes(dir, b), "data section would start at 64");
}

TEST(GgufBadInput, OverlappingTensors) {
  TempDir dir;
  Bytes b;
  b.header(2, 0).text("a").u32(1).u64(16).u32(0).u64(0).text("b").u32(1).u64(4).u32(0).u64(32);
  b.pad_to(32).chars(std::string(64, '\0'));
  EXPECT_ERROR_WITH(open_bytes(dir, b), "tensor 'b' at data offset 32 overlaps tensor 'a'");
}

TEST(GgufBadInput, RowNotMultipleOfBlockSize) {
  TempDir dir;
  Bytes b;
  b.header(1, 0).text("q").u32(1).u64(40).u32(8).u64(0);  // Q8_0 blocks hold 32 elements
  b.pad_to(32).chars(std::string(68, '\0'));
  EXPECT_ERROR_WITH(open_bytes(dir, b), "tensor 'q' has 40 elements per row", "q8_0 block size 32");
}

// ---------------------------------------------------------------------- a real vocabulary file

TEST(GgufReader, ReadsLlamaSpmVocabulary) {
  SLIM_ASSET_OR_SKIP(path, "llama.cpp/models/ggml-vocab-llama-spm.gguf");
  const auto file = GgufFile::open(path);
  EXPECT_EQ(file->version(), 3u);
  EXPECT_EQ(file->get_string("tokenizer.ggml.model"), "llama");
  const auto tokens = file->get_array_strings("tokenizer.ggml.tokens");
  ASSERT_EQ(tokens.size(), 32000u);
  EXPECT_EQ(tokens[0], "<unk>");
  EXPECT_EQ(tokens[1], "<s>");
  EXPECT_EQ(tokens[3], "<0x00>");
  EXPECT_EQ(tokens[29871], "\xE2\x96\x81");  // "▁"
  EXPECT_EQ(file->get_array_f32("tokenizer.ggml.scores").size(), 32000u);
  const auto types = file->get_array_i32("tokenizer.ggml.token_type");
  EXPECT_EQ(types[0], 2);    // unknown
  EXPECT_EQ(types[1], 3);    // control
  EXPECT_EQ(types[3], 6);    // byte
  EXPECT_EQ(types[400], 1);  // normal
  EXPECT_EQ(file->get_int("tokenizer.ggml.bos_token_id"), 1);
  EXPECT_EQ(file->get_int("tokenizer.ggml.eos_token_id"), 2);
}

}  // namespace
