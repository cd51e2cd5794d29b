// The format-neutral saver interface: the factory, and what each format says it can hold.
#include "slim/export/quantized_saver.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "support/expect_error.h"
#include "support/temp_dir.h"

namespace slim::exporter {
namespace {

using quant::DeployedTag;

TEST(QuantizedSaver, FactoryKnowsBothFormats) {
  testing::TempDir dir;
  QuantizedSaveOptions options;
  options.save_path = dir.file("ascend");
  const auto ascend = make_quantized_saver("ascendv1", options);
  EXPECT_TRUE(ascend->writes_tied_weights_twice());
  for (DeployedTag tag : {DeployedTag::Float, DeployedTag::W8A8, DeployedTag::W4A16,
                          DeployedTag::W8A8MxFp8, DeployedTag::W4A4MxFp4, DeployedTag::W4A8Dynamic})
    EXPECT_TRUE(ascend->supports(tag)) << quant::tag_name(tag);

  options.save_path = dir.file("ct");
  const auto compressed = make_quantized_saver("compressed-tensors", options);
  EXPECT_FALSE(compressed->writes_tied_weights_twice());
  for (DeployedTag tag : {DeployedTag::Float, DeployedTag::W8A8, DeployedTag::W8A8Dynamic,
                          DeployedTag::W8A16, DeployedTag::W4A16, DeployedTag::WFp8AFp8Dynamic})
    EXPECT_TRUE(compressed->supports(tag)) << quant::tag_name(tag);
  for (DeployedTag tag : {DeployedTag::W8A8MxFp8, DeployedTag::W4A4MxFp4, DeployedTag::W4A8Dynamic,
                          DeployedTag::W8A8Mix, DeployedTag::W16A16S})
    EXPECT_FALSE(compressed->supports(tag)) << quant::tag_name(tag);

  // Abandoned savers leave nothing behind.
  EXPECT_FALSE(std::filesystem::exists(dir.file("ascend")));
  EXPECT_ERROR_WITH(make_quantized_saver("gguf", options), "gguf", "ascendv1, compressed-tensors");
  EXPECT_EQ(quantized_formats().size(), 2u);
}

}  // namespace
}  // namespace slim::exporter
