#include "slim/io/dataset.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "slim/core/error.h"
#include "slim/core/files.h"
#include "support/expect_error.h"
#include "support/temp_dir.h"

namespace {

using slim::io::DatasetUse;
using slim::io::find_invalid_utf8;
using slim::io::line_of_offset;
using slim::io::load_text_dataset;
using slim::testing::TempDir;
using Samples = std::vector<std::string>;

constexpr size_t npos = std::string::npos;

class Dataset : public ::testing::Test {
 protected:
  Samples load(const std::string& name, const std::string& contents,
               DatasetUse use = DatasetUse::Calibration) {
    return load_text_dataset(write(name, contents), use);
  }
  std::string write(const std::string& name, const std::string& contents) {
    const std::string path = dir_.file(name);
    slim::write_file(path, contents);
    return path;
  }

  TempDir dir_;
};

// ------------------------------------------------------------------------------------ .json

TEST_F(Dataset, JsonArrayOfStrings) {
  EXPECT_EQ(load("calib.json", R"(["first sample", "second\nsample", "", "中文样本"])"),
            (Samples{"first sample", "second\nsample", "", "中文样本"}));
}

TEST_F(Dataset, JsonArrayWithObjects) {
  const std::string contents = R"([
    "plain",
    {"text": "from text"},
    {"prompt": "from prompt", "text": "ignored"},
    {"inputs_pretokenized": "from inputs", "prompt": "ignored", "text": "ignored"},
    {"id": 3, "text": "with other keys"}
  ])";
  EXPECT_EQ(load("mixed.json", contents),
            (Samples{"plain", "from text", "from prompt", "from inputs", "with other keys"}));
}

TEST_F(Dataset, JsonNotAnArray) {
  const std::string path = write("object.json", R"({"text": "a"})");
  EXPECT_ERROR_WITH(load_text_dataset(path, DatasetUse::Calibration), path,
                    "expected a JSON array of strings", "object");
}

TEST_F(Dataset, JsonElementOfTheWrongTypeIsNamed) {
  const std::string path = write("numbers.json", R"(["ok", "fine", 42])");
  EXPECT_ERROR_WITH(load_text_dataset(path, DatasetUse::Calibration), path, "element 2",
                    "expected a string", "number");
  const std::string nested = write("nested.json", R"([["a"]])");
  EXPECT_ERROR_WITH(load_text_dataset(nested, DatasetUse::Calibration), nested, "element 0",
                    "array");
}

TEST_F(Dataset, JsonObjectWithoutTextKey) {
  const std::string path = write("keys.json", R"(["a", {"content": "b"}])");
  EXPECT_ERROR_WITH(load_text_dataset(path, DatasetUse::Calibration), path, "element 1",
                    "inputs_pretokenized, prompt, text");
}

TEST_F(Dataset, JsonObjectTextKeyNotAString) {
  const std::string path = write("typed.json", R"([{"prompt": ["a", "b"]}])");
  EXPECT_ERROR_WITH(load_text_dataset(path, DatasetUse::Calibration), path, "element 0", "'prompt'",
                    "must be a string", "array");
}

TEST_F(Dataset, MalformedJsonNamesTheLine) {
  const std::string path = write("file.json", "[\n  \"one\",\n  \"two\" \"three\"\n]\n");
  EXPECT_ERROR_WITH(load_text_dataset(path, DatasetUse::Calibration),
                    path + ":3:", "not valid JSON");
  const std::string first = write("first.json", "{oops");
  EXPECT_ERROR_WITH(load_text_dataset(first, DatasetUse::Calibration), first + ":1:");
  const std::string truncated = write("truncated.json", "[\n\"a\",\n\"b\",\n");
  EXPECT_ERROR_WITH(load_text_dataset(truncated, DatasetUse::Calibration),
                    truncated + ":4:", "not valid JSON");
}

TEST_F(Dataset, JsonWithByteOrderMark) {
  EXPECT_EQ(load("bom.json", "\xEF\xBB\xBF[\"a\", \"b\"]"), (Samples{"a", "b"}));
}

TEST_F(Dataset, EmptyJsonArrayHasNoSamples) {
  const std::string path = write("empty.json", "[]");
  EXPECT_ERROR_WITH(load_text_dataset(path, DatasetUse::Calibration), path, "no text samples");
}

// ----------------------------------------------------------------------------------- .jsonl

TEST_F(Dataset, JsonlTextKeysInPriorityOrder) {
  const std::string contents = R"({"inputs_pretokenized": "A", "prompt": "x", "text": "y"})"
                               "\n"
                               R"({"text": "y", "prompt": "B"})"
                               "\n"
                               R"({"text": "C", "label": 1})"
                               "\n"
                               R"({"text": "y", "inputs_pretokenized": "D"})"
                               "\n";
  EXPECT_EQ(load("keys.jsonl", contents), (Samples{"A", "B", "C", "D"}));
}

TEST_F(Dataset, JsonlRawLinesAreText) {
  const std::string contents =
      "The quick brown fox.\n"
      "  indented text stays as it is  \n"
      "\"quoted\" words are not JSON\n"
      "\"a JSON string\"\n"
      "42\n"
      "[1, 2\n";
  EXPECT_EQ(load("raw.jsonl", contents),
            (Samples{"The quick brown fox.", "  indented text stays as it is  ",
                     "\"quoted\" words are not JSON", "a JSON string", "42", "[1, 2"}));
}

TEST_F(Dataset, JsonlObjectWithoutTextKeyIsTakenRaw) {
  EXPECT_EQ(load("other.jsonl", "{\"question\": \"q\"}\n{\"text\": \"t\"}\n"),
            (Samples{"{\"question\": \"q\"}", "t"}));
}

TEST_F(Dataset, JsonlSkipsBlankLinesAndStripsCrlf) {
  const std::string contents =
      "\r\n"
      "{\"text\": \"one\"}\r\n"
      "   \r\n"
      "\t\n"
      "\n"
      "raw two\r\n"
      "{\"prompt\": \"three\"}";  // no final newline
  EXPECT_EQ(load("crlf.jsonl", contents), (Samples{"one", "raw two", "three"}));
}

TEST_F(Dataset, JsonlStripsTheByteOrderMark) {
  EXPECT_EQ(load("bom.jsonl", "\xEF\xBB\xBF{\"text\": \"first\"}\nsecond\n"),
            (Samples{"first", "second"}));
}

TEST_F(Dataset, JsonlBrokenObjectNamesTheLine) {
  const std::string path = write("broken.jsonl", "{\"text\": \"a\"}\n\nplain\n{\"text\": \"b\"\n");
  EXPECT_ERROR_WITH(load_text_dataset(path, DatasetUse::Calibration),
                    path + ":4:", "malformed JSON object");
  // Leading whitespace does not hide a broken object.
  const std::string indented = write("indented.jsonl", "ok\n   {\"text\": oops}\n");
  EXPECT_ERROR_WITH(load_text_dataset(indented, DatasetUse::Calibration),
                    indented + ":2:", "malformed JSON object");
}

TEST_F(Dataset, JsonlTextKeyNotAStringNamesTheLine) {
  const std::string path = write("typed.jsonl", "{\"text\": \"a\"}\r\n{\"text\": 7}\r\n");
  EXPECT_ERROR_WITH(load_text_dataset(path, DatasetUse::Calibration), path + ":2:", "'text'",
                    "must be a string", "number");
  const std::string null_text = write("null.jsonl", "\n\n{\"prompt\": null}\n");
  EXPECT_ERROR_WITH(load_text_dataset(null_text, DatasetUse::Calibration),
                    null_text + ":3:", "'prompt'", "null");
}

TEST_F(Dataset, JsonlInvalidUtf8NamesTheLine) {
  const std::string path = write("latin1.jsonl", "{\"text\": \"ok\"}\ncaf\xE9 au lait\n");
  EXPECT_ERROR_WITH(load_text_dataset(path, DatasetUse::Calibration),
                    path + ":2:", "not valid UTF-8", "0xe9");
}

TEST_F(Dataset, EmptyJsonlHasNoSamples) {
  const std::string path = write("blank.jsonl", "\n  \r\n\n");
  EXPECT_ERROR_WITH(load_text_dataset(path, DatasetUse::Calibration), path, "no text samples");
}

// ------------------------------------------------------------------------------------- .txt

TEST_F(Dataset, TxtForEvaluationIsOneSample) {
  const std::string contents = "Paragraph one,\nstill one.\n\nParagraph two.\n";
  EXPECT_EQ(load("wiki.txt", contents, DatasetUse::Evaluation), (Samples{contents}));
}

TEST_F(Dataset, TxtForCalibrationSplitsParagraphs) {
  const std::string contents =
      "\n\nParagraph one,\r\nstill one.\r\n\r\n\r\nParagraph two.\n  \t\nParagraph three\n"
      "ends here";
  EXPECT_EQ(
      load("calib.txt", contents, DatasetUse::Calibration),
      (Samples{"Paragraph one,\nstill one.", "Paragraph two.", "Paragraph three\nends here"}));
}

TEST_F(Dataset, TxtStripsTheByteOrderMark) {
  EXPECT_EQ(load("bom.txt", "\xEF\xBB\xBFhello\n", DatasetUse::Evaluation), (Samples{"hello\n"}));
  EXPECT_EQ(load("bom2.txt", "\xEF\xBB\xBFhello\n\nworld", DatasetUse::Calibration),
            (Samples{"hello", "world"}));
}

TEST_F(Dataset, TxtInvalidUtf8NamesTheLine) {
  const std::string path = write("bad.txt", "line one\nline two\nline \xC3\x28 three\n");
  for (DatasetUse use : {DatasetUse::Evaluation, DatasetUse::Calibration}) {
    EXPECT_ERROR_WITH(load_text_dataset(path, use), path + ":3:", "not valid UTF-8", "0xc3");
  }
}

TEST_F(Dataset, EmptyTxtHasNoSamples) {
  for (const std::string contents : {"", "\n\n", " \r\n\t\n"}) {
    for (DatasetUse use : {DatasetUse::Evaluation, DatasetUse::Calibration}) {
      const std::string path = write("empty.txt", contents);
      EXPECT_ERROR_WITH(load_text_dataset(path, use), path, "no text samples");
    }
  }
}

// ----------------------------------------------------------------------------------- others

TEST_F(Dataset, UnknownExtension) {
  const std::string path = write("data.csv", "a,b\n");
  EXPECT_ERROR_WITH(load_text_dataset(path, DatasetUse::Calibration), path,
                    "unsupported dataset extension", "'.csv'", ".json", ".jsonl", ".txt");
  const std::string bare = write("data", "text\n");
  EXPECT_ERROR_WITH(load_text_dataset(bare, DatasetUse::Calibration), "unsupported", "''");
}

TEST_F(Dataset, MissingFile) {
  const std::string path = dir_.file("absent.jsonl");
  EXPECT_ERROR_WITH(load_text_dataset(path, DatasetUse::Calibration), path, "not found");
}

// ------------------------------------------------------------------------- UTF-8 and lines

TEST(DatasetUtf8, AcceptsValidText) {
  EXPECT_EQ(find_invalid_utf8(""), npos);
  EXPECT_EQ(find_invalid_utf8("plain ASCII\n\t~"), npos);
  EXPECT_EQ(find_invalid_utf8("\xC2\x80"), npos);                 // U+0080, smallest 2-byte
  EXPECT_EQ(find_invalid_utf8("caf\xC3\xA9"), npos);              // é
  EXPECT_EQ(find_invalid_utf8("\xDF\xBF"), npos);                 // U+07FF
  EXPECT_EQ(find_invalid_utf8("\xE0\xA0\x80"), npos);             // U+0800, smallest 3-byte
  EXPECT_EQ(find_invalid_utf8("中文 \xE2\x82\xAC"), npos);        // CJK and €
  EXPECT_EQ(find_invalid_utf8("\xED\x9F\xBF"), npos);             // U+D7FF, just below surrogates
  EXPECT_EQ(find_invalid_utf8("\xEE\x80\x80"), npos);             // U+E000, just above
  EXPECT_EQ(find_invalid_utf8("\xEF\xBF\xBF"), npos);             // U+FFFF
  EXPECT_EQ(find_invalid_utf8("\xF0\x90\x80\x80"), npos);         // U+10000, smallest 4-byte
  EXPECT_EQ(find_invalid_utf8("emoji \xF0\x9F\x98\x80!"), npos);  // 😀
  EXPECT_EQ(find_invalid_utf8("\xF4\x8F\xBF\xBF"), npos);         // U+10FFFF, largest
  EXPECT_EQ(find_invalid_utf8(std::string("nul\0inside", 10)), npos);
}

TEST(DatasetUtf8, RejectsStrayAndInvalidBytes) {
  EXPECT_EQ(find_invalid_utf8("abc\x80"), 3u);  // continuation byte without a lead
  EXPECT_EQ(find_invalid_utf8("ab\xBF"
                              "cd"),
            2u);
  EXPECT_EQ(find_invalid_utf8("x\xFF"), 1u);  // never valid
  EXPECT_EQ(find_invalid_utf8("\xFE"), 0u);
  EXPECT_EQ(find_invalid_utf8("\xF8\x88\x80\x80\x80"), 0u);  // 5-byte form
  EXPECT_EQ(find_invalid_utf8("ok \xE9t\xE9"), 3u);          // Latin-1
}

TEST(DatasetUtf8, RejectsOverlongEncodings) {
  EXPECT_EQ(find_invalid_utf8("\xC0\x80"), 0u);          // U+0000 in 2 bytes
  EXPECT_EQ(find_invalid_utf8("a\xC1\xBF"), 1u);         // U+007F in 2 bytes
  EXPECT_EQ(find_invalid_utf8("\xE0\x80\xAF"), 0u);      // '/' in 3 bytes
  EXPECT_EQ(find_invalid_utf8("\xE0\x9F\xBF"), 0u);      // U+07FF in 3 bytes
  EXPECT_EQ(find_invalid_utf8("\xF0\x80\x80\xAF"), 0u);  // '/' in 4 bytes
  EXPECT_EQ(find_invalid_utf8("\xF0\x8F\xBF\xBF"), 0u);  // U+FFFF in 4 bytes
}

TEST(DatasetUtf8, RejectsSurrogatesAndValuesBeyondUnicode) {
  EXPECT_EQ(find_invalid_utf8("\xED\xA0\x80"), 0u);              // U+D800
  EXPECT_EQ(find_invalid_utf8("ok\xED\xBF\xBF"), 2u);            // U+DFFF
  EXPECT_EQ(find_invalid_utf8("\xED\xA0\xBD\xED\xB8\x80"), 0u);  // CESU-8 surrogate pair
  EXPECT_EQ(find_invalid_utf8("\xF4\x90\x80\x80"), 0u);          // U+110000
  EXPECT_EQ(find_invalid_utf8("\xF7\xBF\xBF\xBF"), 0u);
}

TEST(DatasetUtf8, RejectsTruncatedSequences) {
  EXPECT_EQ(find_invalid_utf8("\xC3"), 0u);  // at the end
  EXPECT_EQ(find_invalid_utf8("abc\xE4\xB8"), 3u);
  EXPECT_EQ(find_invalid_utf8("\xF0\x9F\x98"), 0u);
  EXPECT_EQ(find_invalid_utf8("\xE4\xB8 rest"), 0u);  // cut short by ASCII
  EXPECT_EQ(find_invalid_utf8("\xC3\xA9\xF0\x9F\x98\xC3\xA9"), 2u);
}

TEST(DatasetLines, LineOfOffset) {
  const std::string text = "ab\ncd\n\nef";
  EXPECT_EQ(line_of_offset(text, 0), 1u);
  EXPECT_EQ(line_of_offset(text, 2), 1u);  // the newline belongs to its line
  EXPECT_EQ(line_of_offset(text, 3), 2u);
  EXPECT_EQ(line_of_offset(text, 5), 2u);
  EXPECT_EQ(line_of_offset(text, 6), 3u);
  EXPECT_EQ(line_of_offset(text, 7), 4u);
  EXPECT_EQ(line_of_offset(text, text.size()), 4u);
  EXPECT_EQ(line_of_offset(text, 1000), 4u);  // clamped
  EXPECT_EQ(line_of_offset("", 0), 1u);
  EXPECT_EQ(line_of_offset("\r\n\r\nx", 4), 3u);
}

}  // namespace
