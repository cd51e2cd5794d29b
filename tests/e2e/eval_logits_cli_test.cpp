// Whole-CLI runs of `slim eval logits`: the file it writes holds CausalLM::forward's logits, and
// every bad input is refused with a message naming it.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "slim/core/files.h"
#include "slim/io/safetensors.h"
#include "slim/model/causal_lm.h"
#include "support/run_cli.h"
#include "support/temp_dir.h"

namespace {

using slim::testing::CliResult;
using slim::testing::run_slim;
using slim::testing::TempDir;
namespace fs = std::filesystem;

// A random fp32 Qwen2 (q/k/v biases) with a vocabulary of 300.
std::string make_model(const TempDir& dir) {
  const std::string path = dir.file("model");
  const auto result = run_slim(
      "random-model --arch Qwen2ForCausalLM --dtype fp32 --vocab_size 300 "
      "--seed 4 --save_path '" +
          path + "'",
      dir.file("err.txt"));
  EXPECT_EQ(result.exit_code, 0) << result.err;
  return path;
}

CliResult logits(const TempDir& dir, const std::string& model, const std::string& arguments) {
  return run_slim("eval logits --model_path '" + model + "' " + arguments, dir.file("err.txt"));
}

void expect_refused(const CliResult& result, std::initializer_list<std::string> fragments) {
  EXPECT_EQ(result.exit_code, 2) << result.err;
  for (const auto& fragment : fragments)
    EXPECT_NE(result.err.find(fragment), std::string::npos)
        << "stderr '" << result.err << "' lacks '" << fragment << "'";
}

TEST(EvalLogitsCli, WritesTheLogitsOfForwardForABatch) {
  TempDir dir;
  const std::string model = make_model(dir);
  const std::string output = dir.file("out.safetensors");
  const auto result =
      logits(dir, model, "--ids '5 7 299 0 12' --ids 1,2,3,4,5 --output '" + output + "'");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(result.out.empty()) << result.out;
  const auto file = slim::io::SafetensorsFile::open(output);
  EXPECT_EQ(file->metadata().at("format"), "pt");
  EXPECT_EQ(file->info("logits").dtype, slim::io::Dtype::F32);
  EXPECT_EQ(file->info("input_ids").dtype, slim::io::Dtype::I64);
  const at::Tensor ids = at::tensor({5, 7, 299, 0, 12, 1, 2, 3, 4, 5}, at::kLong).view({2, 5});
  EXPECT_TRUE(at::equal(file->tensor("input_ids"), ids));
  const at::Tensor expected = slim::model::CausalLM::open(model)->forward(ids);
  ASSERT_EQ(file->tensor("logits").sizes(), (std::vector<int64_t>{2, 5, 300}));
  EXPECT_TRUE(at::equal(file->tensor("logits"), expected));
  // No temporary files are left beside the output.
  int entries = 0;
  for (const auto& entry : fs::directory_iterator(dir.path()))
    entries += entry.path().filename().string().rfind(".out", 0) == 0;
  EXPECT_EQ(entries, 0);
}

TEST(EvalLogitsCli, IdsFileHasOneSequencePerLineAndSkipsBlankLines) {
  TempDir dir;
  const std::string model = make_model(dir);
  slim::write_file(dir.file("ids.txt"), "3 4 5\n\n6,7,8\n");
  ASSERT_EQ(logits(dir, model,
                   "--ids_file '" + dir.file("ids.txt") + "' --output '" +
                       dir.file("a.safetensors") + "'")
                .exit_code,
            0);
  ASSERT_EQ(
      logits(dir, model, "--ids '3 4 5' --ids '6 7 8' --output '" + dir.file("b.safetensors") + "'")
          .exit_code,
      0);
  const auto a = slim::io::SafetensorsFile::open(dir.file("a.safetensors"));
  const auto b = slim::io::SafetensorsFile::open(dir.file("b.safetensors"));
  EXPECT_TRUE(at::equal(a->tensor("logits"), b->tensor("logits")));
  EXPECT_TRUE(at::equal(a->tensor("input_ids"), b->tensor("input_ids")));
}

TEST(EvalLogitsBadInput, TokenThatIsNotAnInteger) {
  TempDir dir;
  expect_refused(
      logits(dir, make_model(dir), "--ids '1 x2 3' --output " + dir.file("o.safetensors")),
      {"--ids #1", "'x2' is not a token id"});
}

TEST(EvalLogitsBadInput, TokenOutsideTheVocabulary) {
  TempDir dir;
  expect_refused(
      logits(dir, make_model(dir), "--ids '1 300' --output " + dir.file("o.safetensors")),
      {"token id 300", "outside the vocabulary [0, 300)"});
  EXPECT_FALSE(fs::exists(dir.file("o.safetensors")));
}

TEST(EvalLogitsBadInput, NegativeToken) {
  TempDir dir;
  expect_refused(logits(dir, make_model(dir), "--ids '1 -1' --output " + dir.file("o.safetensors")),
                 {"token id -1", "outside the vocabulary"});
}

TEST(EvalLogitsBadInput, SequencesOfDifferentLengths) {
  TempDir dir;
  expect_refused(logits(dir, make_model(dir),
                        "--ids '1 2 3' --ids '4 5' --output " + dir.file("o.safetensors")),
                 {"sequence 2 has 2 token ids, sequence 1 has 3", "no padding"});
}

TEST(EvalLogitsBadInput, UnquotedIdsAreNotSeveralSequences) {
  TempDir dir;
  expect_refused(logits(dir, make_model(dir), "--ids 1 2 3 --output " + dir.file("o.safetensors")),
                 {"not expected"});
}

TEST(EvalLogitsBadInput, EmptySequence) {
  TempDir dir;
  expect_refused(logits(dir, make_model(dir), "--ids ' ' --output " + dir.file("o.safetensors")),
                 {"--ids #1: no token ids"});
}

TEST(EvalLogitsBadInput, BothIdsAndIdsFile) {
  TempDir dir;
  slim::write_file(dir.file("ids.txt"), "1 2\n");
  expect_refused(logits(dir, make_model(dir),
                        "--ids '1 2' --ids_file " + dir.file("ids.txt") + " --output " +
                            dir.file("o.safetensors")),
                 {"--ids", "--ids_file, not both"});
}

TEST(EvalLogitsBadInput, NeitherIdsNorIdsFile) {
  TempDir dir;
  expect_refused(logits(dir, make_model(dir), "--output " + dir.file("o.safetensors")),
                 {"--ids", "--ids_file"});
}

TEST(EvalLogitsBadInput, IdsFileWithoutIds) {
  TempDir dir;
  slim::write_file(dir.file("ids.txt"), "\n  \n");
  expect_refused(
      logits(dir, make_model(dir),
             "--ids_file " + dir.file("ids.txt") + " --output " + dir.file("o.safetensors")),
      {dir.file("ids.txt"), "no token ids"});
}

TEST(EvalLogitsBadInput, IdsFileLineNamedInMessage) {
  TempDir dir;
  slim::write_file(dir.file("ids.txt"), "1 2\n3 four\n");
  expect_refused(
      logits(dir, make_model(dir),
             "--ids_file " + dir.file("ids.txt") + " --output " + dir.file("o.safetensors")),
      {dir.file("ids.txt") + ":2", "'four' is not a token id"});
}

TEST(EvalLogitsBadInput, OutputWithoutSafetensorsExtension) {
  TempDir dir;
  expect_refused(logits(dir, make_model(dir), "--ids '1 2' --output " + dir.file("o.bin")),
                 {"--output", "o.bin", "ending in .safetensors"});
}

TEST(EvalLogitsBadInput, OutputDirectoryMissing) {
  TempDir dir;
  expect_refused(
      logits(dir, make_model(dir), "--ids '1 2' --output " + dir.file("missing/o.safetensors")),
      {"--output", "directory", "missing", "does not exist"});
}

TEST(EvalLogitsBadInput, ModelWithoutConfig) {
  TempDir dir;
  expect_refused(logits(dir, dir.path(), "--ids '1 2' --output " + dir.file("o.safetensors")),
                 {"config.json"});
}

}  // namespace
