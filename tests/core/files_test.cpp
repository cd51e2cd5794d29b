#include "slim/core/files.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>

#include "support/expect_error.h"
#include "support/temp_dir.h"

namespace {

namespace fs = std::filesystem;
using slim::AtomicOutputDir;
using slim::testing::TempDir;

TEST(AtomicOutputDir, AppearsOnlyAfterCommit) {
  TempDir dir;
  const std::string target = dir.file("out");
  {
    AtomicOutputDir output(target, false);
    slim::write_file(output.path() + "/a.txt", "hello");
    EXPECT_FALSE(fs::exists(target));
    output.commit();
  }
  EXPECT_EQ(slim::read_file(target + "/a.txt"), "hello");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), {}), 1) << "no temporaries left";
}

TEST(AtomicOutputDir, UncommittedWorkIsRemoved) {
  TempDir dir;
  {
    AtomicOutputDir output(dir.file("out"), false);
    slim::write_file(output.path() + "/partial", "x");
  }
  EXPECT_TRUE(fs::is_empty(dir.path()));
}

TEST(AtomicOutputDir, RefusesNonEmptyTargetUnlessOverwrite) {
  TempDir dir;
  fs::create_directories(dir.file("out"));
  slim::write_file(dir.file("out/old"), "old");
  EXPECT_ERROR_WITH(AtomicOutputDir(dir.file("out"), false), "out", "not empty", "--overwrite");
  {
    AtomicOutputDir output(dir.file("out"), true);
    slim::write_file(output.path() + "/new", "new");
    output.commit();
  }
  EXPECT_FALSE(fs::exists(dir.file("out/old")));
  EXPECT_TRUE(fs::exists(dir.file("out/new")));
  // Replaced again (a checkpoint every N steps): only the target remains beside the inputs.
  for (const char* content : {"second", "third"}) {
    AtomicOutputDir output(dir.file("out"), true);
    slim::write_file(output.path() + "/new", content);
    fs::create_directories(output.path() + "/sub/deep");  // the old tree goes, nested or not
    slim::write_file(output.path() + "/sub/deep/file", content);
    output.commit();
  }
  EXPECT_EQ(slim::read_file(dir.file("out/new")), "third");
  EXPECT_EQ(slim::read_file(dir.file("out/sub/deep/file")), "third");
  int entries = 0;
  for (const auto& entry : fs::directory_iterator(dir.path())) {
    EXPECT_EQ(entry.path().filename(), "out");
    ++entries;
  }
  EXPECT_EQ(entries, 1);
}

TEST(AtomicOutputDir, EmptyExistingDirectoryIsFineAndFileIsNot) {
  TempDir dir;
  fs::create_directories(dir.file("empty"));
  AtomicOutputDir output(dir.file("empty/"), false);
  output.commit();
  slim::write_file(dir.file("file"), "x");
  EXPECT_ERROR_WITH(AtomicOutputDir(dir.file("file"), true), "not a directory");
}

TEST(Files, JsonFilesHaveTwoSpaceIndentKeyOrderAndAFinalNewline) {
  const nlohmann::ordered_json ordered = {{"b", 1}, {"a", {2, 3}}};
  EXPECT_EQ(slim::json_file_text(ordered), "{\n  \"b\": 1,\n  \"a\": [\n    2,\n    3\n  ]\n}\n");
  const nlohmann::json sorted = {{"b", 1}, {"a", "x"}};
  EXPECT_EQ(slim::json_file_text(sorted), "{\n  \"a\": \"x\",\n  \"b\": 1\n}\n");
  TempDir dir;
  slim::write_json_file(dir.file("config.json"), ordered);
  EXPECT_EQ(slim::read_file(dir.file("config.json")), slim::json_file_text(ordered));
}

TEST(Files, ReadJsonFileParsesOrNamesTheFile) {
  TempDir dir;
  slim::write_file(dir.file("ok.json"), R"({"b": 1, "a": 2})");
  EXPECT_EQ(slim::read_json_file<nlohmann::ordered_json>(dir.file("ok.json")).begin().key(), "b");
  EXPECT_EQ(slim::read_json_file<nlohmann::json>(dir.file("ok.json")).at("a"), 2);
  slim::write_file(dir.file("bad.json"), "{\"a\": ");
  EXPECT_ERROR_WITH(slim::read_json_file<nlohmann::json>(dir.file("bad.json")), "bad.json",
                    "not valid JSON");
  EXPECT_ERROR_WITH(slim::read_json_file<nlohmann::json>(dir.file("missing.json")), "missing.json");
}

TEST(Files, ReadErrorsNameTheFile) {
  TempDir dir;
  EXPECT_ERROR_WITH(slim::read_file(dir.file("missing.txt")), "missing.txt", "cannot open");
  EXPECT_ERROR_WITH(slim::read_file(dir.path()), "is a directory");
  EXPECT_ERROR_WITH(slim::write_file(dir.file("no/such/dir/x"), "x"), "no/such/dir/x");
}

}  // namespace
