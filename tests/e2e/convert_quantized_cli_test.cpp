// Whole-CLI runs of `slim convert --format ascendv1|compressed-tensors --scheme S`: the scheme
// names come from the deployed-form table, refusals are errors before anything is written.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>

#include "slim/core/files.h"
#include "slim/pipeline/data_free_convert.h"
#include "slim/quant/deployed_forms.h"
#include "support/run_cli.h"
#include "support/temp_dir.h"

namespace {

using slim::testing::run_slim;
using slim::testing::TempDir;
namespace fs = std::filesystem;

std::string convert(const TempDir& dir, const std::string& format, const std::string& scheme,
                    const std::string& extra = "") {
  return "convert --model_path '" + dir.file("src") + "' --save_path '" + dir.file("out") +
         "' --format " + format + " --scheme " + scheme + " " + extra;
}

TEST(ConvertQuantizedCli, HelpListsTheTablesDataFreeSchemes) {
  TempDir dir;
  const auto help = run_slim("convert --help", dir.file("err"));
  ASSERT_EQ(help.exit_code, 0) << help.err;
  for (const auto& name : slim::pipeline::data_free_schemes())
    EXPECT_NE(help.out.find(name), std::string::npos) << name;
  EXPECT_EQ(help.out.find("w8a8_mix"), std::string::npos);  // static activations: not data-free
}

TEST(ConvertQuantizedCli, WritesEveryFormatAndRefusesWhatItCannotHold) {
  TempDir dir;
  ASSERT_EQ(
      run_slim("random-model --save_path '" + dir.file("src") + "'", dir.file("err")).exit_code, 0);

  auto run =
      run_slim(convert(dir, "ascendv1", "w8a8_dynamic", "--exclude '*down_proj'"), dir.file("err"));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_NE(run.out.find("as W8A8_DYNAMIC"), std::string::npos) << run.out;
  const auto description =
      nlohmann::json::parse(slim::read_file(dir.file("out/quant_model_description.json")));
  EXPECT_EQ(description["model_quant_type"], "W8A8_DYNAMIC");
  EXPECT_EQ(description["model.layers.0.mlp.down_proj.weight"], "FLOAT");
  EXPECT_EQ(description["model.layers.0.mlp.up_proj.weight_scale"], "W8A8_DYNAMIC");
  fs::remove_all(dir.file("out"));

  run = run_slim(convert(dir, "compressed-tensors", "w8a8_dynamic", "--exclude '*down_proj'"),
                 dir.file("err"));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const auto config = nlohmann::json::parse(slim::read_file(dir.file("out/config.json")));
  EXPECT_EQ(config["quantization_config"]["format"], "int-quantized");
  EXPECT_EQ(config["quantization_config"]["ignore"][0], "model.layers.0.mlp.down_proj");
  fs::remove_all(dir.file("out"));

  // Refused before anything is written, exit code 2, the reason on stderr.
  run = run_slim(convert(dir, "compressed-tensors", "w4a8_dynamic"), dir.file("err"));
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("compressed-tensors cannot hold W4A8_DYNAMIC"), std::string::npos)
      << run.err;
  run = run_slim(convert(dir, "ascendv1", "w8a8"), dir.file("err"));
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("calibration"), std::string::npos) << run.err;
  run =
      run_slim(convert(dir, "ascendv1", "w8a8_dynamic", "--group_size 32 --asym"), dir.file("err"));
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.err.find("ascendv1 cannot hold W8A8_DYNAMIC"), std::string::npos) << run.err;
  EXPECT_FALSE(fs::exists(dir.file("out")));
}

}  // namespace
