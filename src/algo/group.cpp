// `group` (spec msmodelslim-v1.md §2.4): sub-processors that share one calibration forward per
// layer. Every sub-processor's preprocess runs, then one forward (unless all are data-free), then
// every postprocess, in config order.
#include "algo/processors.h"
#include "slim/core/error.h"
#include "slim/core/yaml_fields.h"

namespace slim::algo {

namespace {

class GroupProcessor : public Processor {
 public:
  explicit GroupProcessor(std::vector<std::unique_ptr<Processor>> members)
      : members_(std::move(members)) {}

  std::string type() const override { return "group"; }
  bool is_data_free() const override {
    for (const auto& member : members_) {
      if (!member->is_data_free()) return false;
    }
    return true;
  }
  bool needs_forward(const LayerUnit& unit) const override {
    for (const auto& member : members_) {
      if (member->needs_forward(unit)) return true;
    }
    return false;
  }
  void pre_run(const RunContext& run) override {
    for (auto& member : members_)
      member->pre_run(run);
  }
  void preprocess(const RunContext& run, LayerUnit& unit) override {
    for (auto& member : members_)
      member->preprocess(run, unit);
  }
  void postprocess(const RunContext& run, LayerUnit& unit) override {
    for (auto& member : members_)
      member->postprocess(run, unit);
    // A later member may have changed what an earlier one's ranges describe.
    unit.input_ranges.clear();
  }
  void post_run(const RunContext& run) override {
    for (auto& member : members_)
      member->post_run(run);
  }
  void describe(LinearPlan& plan) const override {
    for (const auto& member : members_)
      member->describe(plan);
  }
  std::vector<quant::DeployedForm> forms() const override {
    std::vector<quant::DeployedForm> out;
    for (const auto& member : members_) {
      for (const auto& form : member->forms())
        out.push_back(form);
    }
    return out;
  }

 private:
  std::vector<std::unique_ptr<Processor>> members_;
};

}  // namespace

std::unique_ptr<Processor> make_group(const pipeline::ProcessorConfig& config) {
  check_keys(config.node, config.path, {"type", "configs"});
  const std::string path = yaml_path(config.path, "configs");
  const YAML::Node configs = config.node["configs"];
  SLIM_CHECK(configs && configs.IsSequence() && configs.size() > 0, path,
             ": expected a non-empty list of processors", yaml_line(config.node));
  std::vector<std::unique_ptr<Processor>> members;
  for (size_t i = 0; i < configs.size(); ++i) {
    const std::string member_path = yaml_path(path, i);
    require_map(configs[i], member_path);
    pipeline::ProcessorConfig member{yaml_string(configs[i], "type", member_path, ""), configs[i],
                                     member_path};
    SLIM_CHECK(!member.type.empty(), member_path, ": a processor needs a `type`",
               yaml_line(configs[i]));
    SLIM_CHECK(member.type != "group", member_path, ": groups do not nest");
    members.push_back(make_processor(member));
  }
  return std::make_unique<GroupProcessor>(std::move(members));
}

}  // namespace slim::algo
