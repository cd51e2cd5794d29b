#include "slim/train/trainer.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <c10/core/GradMode.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <numeric>
#include <random>

#include "slim/core/error.h"
#include "slim/core/files.h"
#include "slim/core/progress.h"
#include "slim/eval/evaluate.h"
#include "slim/io/dataset.h"
#include "slim/io/safetensors.h"
#include "slim/io/tokenizer/tokenizer.h"
#include "slim/model/tensor_layout.h"

namespace fs = std::filesystem;

namespace slim::train {

namespace {

constexpr const char* kCheckpointFormat = "slim-train-checkpoint";
constexpr int kCheckpointVersion = 1;

std::atomic<int> g_interrupt{0};
extern "C" void on_interrupt(int signal) {
  g_interrupt.store(signal);
}

// Installs SIGINT/SIGTERM handlers for the lifetime of a run: the loop checkpoints and stops.
class InterruptScope {
 public:
  InterruptScope() {
    g_interrupt.store(0);
    previous_int_ = std::signal(SIGINT, on_interrupt);
    previous_term_ = std::signal(SIGTERM, on_interrupt);
  }
  ~InterruptScope() {
    std::signal(SIGINT, previous_int_);
    std::signal(SIGTERM, previous_term_);
  }

 private:
  void (*previous_int_)(int) = nullptr;
  void (*previous_term_)(int) = nullptr;
};

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// ---------------------------------------------------------------- data

// Every document of the training text, tokenized without special tokens and framed by BOS/EOS
// (when the tokenizer has them), back to back.
std::vector<int32_t> tokenize_training_text(const io::Tokenizer& tokenizer,
                                            const std::string& dataset) {
  const auto documents = io::load_text_dataset(dataset, io::DatasetUse::Evaluation);
  const auto encoded = tokenizer.encode_batch(documents, /*add_special_tokens=*/false);
  std::vector<int32_t> stream;
  for (const auto& ids : encoded) {
    if (ids.empty()) continue;
    if (tokenizer.bos_id()) stream.push_back(*tokenizer.bos_id());
    stream.insert(stream.end(), ids.begin(), ids.end());
    if (tokenizer.eos_id()) stream.push_back(*tokenizer.eos_id());
  }
  return stream;
}

// ---------------------------------------------------------------- checkpoints

nlohmann::json evals_json(const std::vector<EvalPoint>& evals) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& point : evals) {
    list.push_back({{"step", point.step},
                    {"tokens", point.tokens},
                    {"train_loss", point.train_loss},
                    {"eval_ppl", point.eval_ppl},
                    {"eval_tokens", point.eval_tokens}});
  }
  return list;
}

std::vector<EvalPoint> evals_from_json(const nlohmann::json& list) {
  std::vector<EvalPoint> evals;
  for (const auto& item : list) {
    EvalPoint point;
    point.step = item.at("step").get<int64_t>();
    point.tokens = item.at("tokens").get<int64_t>();
    point.train_loss = item.at("train_loss").get<double>();
    point.eval_ppl = item.at("eval_ppl").get<double>();
    point.eval_tokens = item.at("eval_tokens").get<int64_t>();
    evals.push_back(point);
  }
  return evals;
}

// What a checkpoint must agree on to be resumed: the model, the data and their order.
nlohmann::json run_fingerprint(const TrainOptions& options, const io::ModelConfig& config,
                               int64_t stream_tokens) {
  return {{"architecture", config.architecture},
          {"vocab_size", config.vocab_size},
          {"hidden_size", config.hidden_size},
          {"num_hidden_layers", config.num_hidden_layers},
          {"dataset_tokens", stream_tokens},
          {"seq_len", options.seq_len},
          {"batch_size", options.batch_size},
          {"grad_accum", options.grad_accum},
          {"seed", options.seed}};
}

// The schedule: a change is allowed on resume (with a warning), since it only changes the future.
nlohmann::json schedule_json(const TrainOptions& options) {
  return {{"steps", options.steps},
          {"warmup_steps", options.warmup_steps},
          {"lr", options.lr},
          {"min_lr_ratio", options.min_lr_ratio},
          {"clip", options.clip},
          {"beta1", options.adamw.beta1},
          {"beta2", options.adamw.beta2},
          {"eps", options.adamw.eps},
          {"weight_decay", options.adamw.weight_decay}};
}

struct RunState {
  int64_t tokens = 0;
  double earlier_seconds = 0;  // wall time of the runs before this one
  std::vector<EvalPoint> evals;
};

void save_checkpoint(const std::string& directory, AdamW& optimizer, const RunState& state,
                     double total_seconds, const nlohmann::json& fingerprint,
                     const nlohmann::json& schedule) {
  AtomicOutputDir output(directory, /*overwrite=*/true);
  io::SafetensorsWriterOptions writer_options;
  writer_options.basename = "state";
  io::SafetensorsWriter writer(output.path(), writer_options);
  for (const auto& parameter : optimizer.parameters()) {
    writer.add("param." + parameter.name, parameter.value.detach().cpu());
    writer.add("exp_avg." + parameter.name, parameter.exp_avg.cpu());
    writer.add("exp_avg_sq." + parameter.name, parameter.exp_avg_sq.cpu());
  }
  writer.finish();
  const nlohmann::json json = {
      {"format", kCheckpointFormat},    {"version", kCheckpointVersion},
      {"step", optimizer.steps()},      {"tokens", state.tokens},
      {"total_seconds", total_seconds}, {"fingerprint", fingerprint},
      {"schedule", schedule},           {"evals", evals_json(state.evals)}};
  write_json_file(output.path() + "/state.json", json);
  output.commit();
}

bool has_checkpoint(const std::string& directory) {
  return fs::exists(fs::path(directory) / "state.json");
}

void load_checkpoint(const std::string& directory, AdamW& optimizer, RunState& state,
                     const nlohmann::json& fingerprint, const nlohmann::json& schedule) {
  const std::string json_path = (fs::path(directory) / "state.json").string();
  auto json = read_json_file<nlohmann::json>(json_path);
  SLIM_CHECK(json.value("format", "") == kCheckpointFormat &&
                 json.value("version", 0) == kCheckpointVersion,
             json_path, ": not a slim train checkpoint of version ", kCheckpointVersion);
  for (const auto& [key, value] : fingerprint.items()) {
    SLIM_CHECK(json["fingerprint"].contains(key) && json["fingerprint"][key] == value, json_path,
               ": the checkpoint was made with ", key, " = ",
               json["fingerprint"].value(key, nlohmann::json()).dump(), ", this run has ",
               value.dump(),
               "; resume with the same model, data and batch layout, or start over "
               "with --overwrite");
  }
  for (const auto& [key, value] : schedule.items()) {
    if (json["schedule"].contains(key) && json["schedule"][key] != value) {
      spdlog::warn("resuming with {} = {} (the checkpoint used {})", key, value.dump(),
                   json["schedule"][key].dump());
    }
  }
  const auto checkpoint = io::SafetensorsCheckpoint::open(directory);
  c10::NoGradGuard no_grad;
  for (auto& parameter : optimizer.parameters()) {
    auto restore = [&](const std::string& name, at::Tensor& target) {
      SLIM_CHECK(checkpoint.contains(name), directory, ": checkpoint lacks tensor ", name);
      const at::Tensor stored = checkpoint.tensor(name);
      SLIM_CHECK(stored.sizes() == target.sizes(), directory, ": tensor ", name, " has shape ",
                 stored.sizes(), ", the model needs ", target.sizes());
      target.copy_(stored);
    };
    restore("param." + parameter.name, parameter.value);
    restore("exp_avg." + parameter.name, parameter.exp_avg);
    restore("exp_avg_sq." + parameter.name, parameter.exp_avg_sq);
  }
  optimizer.set_steps(json.at("step").get<int64_t>());
  state.tokens = json.at("tokens").get<int64_t>();
  state.earlier_seconds = json.value("total_seconds", 0.0);
  state.evals = evals_from_json(json.value("evals", nlohmann::json::array()));
}

// ---------------------------------------------------------------- output

void copy_if_present(const fs::path& from_dir, const std::string& name, const fs::path& to_dir) {
  if (fs::exists(from_dir / name)) {
    write_file((to_dir / name).string(), read_file((from_dir / name).string()));
  }
}

void write_model_directory(const TrainOptions& options, const io::ModelConfig& config,
                           const io::Tokenizer& tokenizer, AdamW& optimizer,
                           const nlohmann::json& trainer_state) {
  AtomicOutputDir output(options.save_path, options.overwrite);
  const fs::path directory = output.path();
  nlohmann::json config_json = config.raw;
  config_json["torch_dtype"] = io::torch_dtype_name(options.save_dtype);
  write_json_file((directory / "config.json").string(), config_json);
  nlohmann::json generation = nlohmann::json::object();
  if (tokenizer.bos_id()) generation["bos_token_id"] = *tokenizer.bos_id();
  if (tokenizer.eos_id()) generation["eos_token_id"] = *tokenizer.eos_id();
  write_json_file((directory / "generation_config.json").string(), generation);
  const fs::path tokenizer_dir = options.tokenizer_path;
  for (const char* name :
       {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model"}) {
    copy_if_present(tokenizer_dir, name, directory);
  }
  std::map<std::string, at::Tensor> by_name;
  for (const auto& parameter : optimizer.parameters())
    by_name[parameter.name] = parameter.value;
  io::SafetensorsWriterOptions writer_options;
  writer_options.metadata = {{"format", "pt"}};
  io::SafetensorsWriter writer(directory.string(), writer_options);
  for (const auto& expected : model::expected_tensors(config)) {
    writer.add(expected.name, by_name.at(expected.name).detach().to(at::kCPU, options.save_dtype));
  }
  writer.finish();
  write_json_file((directory / "trainer_state.json").string(), trainer_state);
  output.commit();
}

// ---------------------------------------------------------------- the loop pieces

void check_options(const TrainOptions& options) {
  SLIM_CHECK(options.config_path.empty() != options.init_model.empty(),
             "give either a config.json to start from random weights or a model to continue");
  SLIM_CHECK(!options.tokenizer_path.empty(), "a tokenizer directory is required");
  SLIM_CHECK(!options.dataset.empty(), "a training dataset is required");
  SLIM_CHECK(!options.save_path.empty(), "an output directory (--save_path) is required");
  SLIM_CHECK(options.seq_len >= 2, "seq_len must be at least 2, got ", options.seq_len);
  SLIM_CHECK(options.batch_size >= 1 && options.grad_accum >= 1,
             "batch_size and grad_accum must be at least 1");
  SLIM_CHECK(options.steps >= 1, "steps must be at least 1, got ", options.steps);
  SLIM_CHECK(options.warmup_steps >= 0 && options.warmup_steps <= options.steps,
             "warmup_steps must be in [0, steps]");
  SLIM_CHECK(options.lr > 0 && std::isfinite(options.lr), "lr must be positive");
  SLIM_CHECK(options.min_lr_ratio >= 0 && options.min_lr_ratio <= 1,
             "min_lr_ratio must be in [0, 1]");
  SLIM_CHECK(options.init_std > 0, "init_std must be positive");
  if (!options.overwrite) {
    SLIM_CHECK(!fs::exists(options.save_path) || fs::is_empty(options.save_path), options.save_path,
               ": exists and is not empty (pass --overwrite to replace it)");
  }
}

std::map<std::string, at::Tensor> starting_weights(const TrainOptions& options,
                                                   const io::ModelConfig& config) {
  if (options.init_model.empty()) return initial_weights(config, options.seed, options.init_std);
  const auto checkpoint = io::SafetensorsCheckpoint::open(options.init_model);
  std::map<std::string, at::Tensor> weights;
  for (const auto& expected : model::expected_tensors(config)) {
    SLIM_CHECK(checkpoint.contains(expected.name), options.init_model, ": missing tensor ",
               expected.name);
    const at::Tensor stored = checkpoint.tensor(expected.name);
    SLIM_CHECK(stored.sizes().vec() == expected.shape, options.init_model, ": tensor ",
               expected.name, " has shape ", stored.sizes(), ", config.json implies ",
               at::IntArrayRef(expected.shape));
    weights[expected.name] = stored.to(at::kFloat, /*non_blocking=*/false, /*copy=*/true);
  }
  return weights;
}

at::Tensor batch_of_windows(const std::vector<int32_t>& stream, WindowOrder& order,
                            int64_t first_window, int64_t count, int64_t seq_len) {
  at::Tensor batch = at::empty({count, seq_len + 1}, at::kLong);
  auto* out = batch.data_ptr<int64_t>();
  for (int64_t b = 0; b < count; ++b) {
    const int64_t start = order.start_of(first_window + b);
    for (int64_t t = 0; t <= seq_len; ++t)
      out[b * (seq_len + 1) + t] = stream[static_cast<size_t>(start + t)];
  }
  return batch;
}

}  // namespace

// ---------------------------------------------------------------- public pieces

std::map<std::string, at::Tensor> initial_weights(const io::ModelConfig& config, uint64_t seed,
                                                  double std) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  const double residual_std = std / std::sqrt(2.0 * static_cast<double>(config.num_hidden_layers));
  std::map<std::string, at::Tensor> weights;
  for (const auto& expected : model::expected_tensors(config)) {
    at::Tensor value;
    const bool residual_output =
        expected.name.size() > 14 && (expected.name.rfind("o_proj.weight") != std::string::npos ||
                                      expected.name.rfind("down_proj.weight") != std::string::npos);
    switch (expected.role) {
      case model::TensorRole::Norm:
        value = at::ones(expected.shape, at::kFloat);
        break;
      case model::TensorRole::Bias:
        value = at::zeros(expected.shape, at::kFloat);
        break;
      default:
        value = at::empty(expected.shape, at::kFloat);
        value.normal_(0, residual_output ? residual_std : std, generator);
    }
    weights[expected.name] = value;
  }
  return weights;
}

WindowOrder::WindowOrder(int64_t stream_tokens, int64_t seq_len, uint64_t seed)
    : seq_len_(seq_len), seed_(seed) {
  // Room for the largest offset: every epoch has the same number of windows.
  per_epoch_ = (stream_tokens - seq_len) / seq_len;
  SLIM_CHECK(per_epoch_ >= 1, "the training text has ", stream_tokens,
             " tokens, too few for windows of ", seq_len, " + 1 tokens at every offset (needs ",
             2 * seq_len + 1, ")");
}

int64_t WindowOrder::start_of(int64_t index) {
  const int64_t epoch = index / per_epoch_;
  if (epoch != epoch_) {
    std::mt19937_64 random(seed_ * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(epoch) + 1);
    offset_ = static_cast<int64_t>(random() % static_cast<uint64_t>(seq_len_));
    permutation_.resize(static_cast<size_t>(per_epoch_));
    std::iota(permutation_.begin(), permutation_.end(), 0);
    // Fisher-Yates with our own draws: std::shuffle's algorithm is implementation-defined.
    for (int64_t i = per_epoch_ - 1; i > 0; --i) {
      const int64_t j = static_cast<int64_t>(random() % static_cast<uint64_t>(i + 1));
      std::swap(permutation_[i], permutation_[j]);
    }
    epoch_ = epoch;
  }
  return offset_ + permutation_[static_cast<size_t>(index % per_epoch_)] * seq_len_;
}

TrainResult train(const TrainOptions& options) {
  check_options(options);
  const double run_start = now_seconds();
  const io::ModelConfig config =
      io::load_model_config(options.init_model.empty() ? options.config_path : options.init_model);
  const auto tokenizer = io::load_tokenizer(options.tokenizer_path);
  SLIM_CHECK(tokenizer->vocab_size() <= config.vocab_size, options.tokenizer_path,
             ": the tokenizer has ", tokenizer->vocab_size(), " tokens, the model's vocab_size is ",
             config.vocab_size);

  spdlog::info("tokenizing {}", options.dataset);
  const std::vector<int32_t> stream = tokenize_training_text(*tokenizer, options.dataset);
  WindowOrder order(static_cast<int64_t>(stream.size()), options.seq_len, options.seed);
  const int64_t tokens_per_step = options.batch_size * options.grad_accum * options.seq_len;
  spdlog::info(
      "{} training tokens; {} windows of {} per epoch; {} tokens per step, {} steps = "
      "{:.2f} epochs",
      stream.size(), order.windows_per_epoch(), options.seq_len, tokens_per_step, options.steps,
      double(options.steps) * options.batch_size * options.grad_accum /
          double(order.windows_per_epoch()));

  std::vector<std::vector<int64_t>> eval_windows, final_eval_windows;
  if (!options.eval_dataset.empty()) {
    const auto held_out = eval::tokenize_dataset(options.tokenizer_path, options.eval_dataset);
    eval::WindowOptions window_options;
    window_options.seq_len = options.seq_len;
    window_options.max_chunks = options.eval_windows;
    eval_windows = eval::windows_for(held_out, window_options);
    window_options.max_chunks = options.final_eval_windows;
    final_eval_windows = eval::windows_for(held_out, window_options);
  }

  // fp32 master weights on the device; the model computes in the runtime's dtype from them.
  std::map<std::string, at::Tensor> weights = starting_weights(options, config);
  std::vector<AdamWParameter> parameters;
  for (auto& [name, value] : weights) {
    value = value.to(options.runtime.device).set_requires_grad(true);
    AdamWParameter parameter;
    parameter.name = name;
    parameter.value = value;
    parameter.decay = value.dim() >= 2;
    parameters.push_back(std::move(parameter));
  }
  AdamW optimizer(std::move(parameters), options.adamw);
  const auto model = model::CausalLM::from_tensors(config, weights, options.runtime);

  const std::string checkpoint_dir =
      options.checkpoint_dir.empty() ? options.save_path + ".checkpoint" : options.checkpoint_dir;
  const nlohmann::json fingerprint =
      run_fingerprint(options, config, static_cast<int64_t>(stream.size()));
  const nlohmann::json schedule = schedule_json(options);
  RunState state;
  if (has_checkpoint(checkpoint_dir)) {
    SLIM_CHECK(options.resume || options.overwrite, checkpoint_dir,
               ": holds a checkpoint of an earlier run; pass --resume to continue it or "
               "--overwrite to start over");
    if (options.resume) {
      load_checkpoint(checkpoint_dir, optimizer, state, fingerprint, schedule);
      spdlog::info("resumed from {} at step {} ({} tokens seen)", checkpoint_dir, optimizer.steps(),
                   state.tokens);
    }
  }

  auto evaluate = [&](const std::vector<std::vector<int64_t>>& windows) {
    c10::NoGradGuard no_grad;
    return eval::perplexity(*model, windows, /*batch_size=*/options.batch_size);
  };

  InterruptScope interrupt_scope;
  const int64_t first_step = optimizer.steps();
  const double loop_start = now_seconds();
  double loss_sum = 0;
  int64_t loss_count = 0;
  double last_loss = 0;
  TrainResult result;
  bool stopped_early = false;
  const auto checkpoint_now = [&] {
    save_checkpoint(checkpoint_dir, optimizer, state,
                    state.earlier_seconds + (now_seconds() - run_start), fingerprint, schedule);
  };
  while (optimizer.steps() < options.steps) {
    const int64_t step = optimizer.steps();
    const double lr = warmup_cosine_lr(step, options.warmup_steps, options.steps, options.lr,
                                       options.min_lr_ratio);
    optimizer.zero_grad();
    double step_loss = 0;
    for (int64_t micro = 0; micro < options.grad_accum; ++micro) {
      const int64_t first_window = (step * options.grad_accum + micro) * options.batch_size;
      const at::Tensor batch =
          batch_of_windows(stream, order, first_window, options.batch_size, options.seq_len)
              .to(options.runtime.device);
      const at::Tensor inputs = batch.narrow(1, 0, options.seq_len);
      const at::Tensor targets = batch.narrow(1, 1, options.seq_len);
      const at::Tensor logits = model->forward(inputs);
      const at::Tensor loss =
          at::cross_entropy_loss(logits.reshape({-1, config.vocab_size}), targets.reshape({-1}));
      (loss / static_cast<double>(options.grad_accum)).backward();
      step_loss += loss.item<double>() / static_cast<double>(options.grad_accum);
    }
    SLIM_CHECK(std::isfinite(step_loss), "the training loss became ", step_loss, " at step ", step,
               " (try a lower --lr or --clip)");
    const double grad_norm = clip_grad_norm(optimizer.parameters(), options.clip);
    optimizer.step(lr);
    state.tokens += tokens_per_step;
    loss_sum += step_loss;
    ++loss_count;
    last_loss = step_loss;
    const int64_t done = optimizer.steps();

    if (options.log_every > 0 && (done % options.log_every == 0 || done == options.steps)) {
      const double elapsed = now_seconds() - loop_start;
      const double per_step = elapsed / static_cast<double>(done - first_step);
      spdlog::info(
          "step {}/{}  loss {:.4f}  lr {:.2e}  grad norm {:.3f}  {:.0f} tokens/s  "
          "epoch {:.2f}  ETA {}",
          done, options.steps, loss_sum / loss_count, lr, grad_norm, tokens_per_step / per_step,
          double(done) * options.batch_size * options.grad_accum /
              double(order.windows_per_epoch()),
          format_duration(per_step * static_cast<double>(options.steps - done)));
      loss_sum = 0;
      loss_count = 0;
    }
    if (!eval_windows.empty() && options.eval_every > 0 && done % options.eval_every == 0 &&
        done != options.steps) {
      const auto measured = evaluate(eval_windows);
      state.evals.push_back(
          {done, state.tokens, last_loss, measured.perplexity, measured.tokens_scored});
      spdlog::info("step {}: held-out perplexity {:.2f} ({} tokens)", done, measured.perplexity,
                   measured.tokens_scored);
    }
    const bool out_of_time = options.time_limit_minutes > 0 &&
                             now_seconds() - run_start > options.time_limit_minutes * 60;
    const bool asked_to_stop = options.stop_after_steps > 0 && done >= options.stop_after_steps;
    const int signal = g_interrupt.load();
    if (done != options.steps && (out_of_time || asked_to_stop || signal != 0)) {
      checkpoint_now();
      spdlog::warn("stopped at step {} ({}); checkpoint in {} — rerun with --resume to continue",
                   done,
                   signal ? "interrupted" : (out_of_time ? "time limit" : "--stop_after_steps"),
                   checkpoint_dir);
      stopped_early = true;
      break;
    }
    if (options.checkpoint_every > 0 && done % options.checkpoint_every == 0 &&
        done != options.steps) {
      checkpoint_now();
    }
  }

  result.steps = optimizer.steps();
  result.tokens = state.tokens;
  result.last_loss = last_loss;
  result.seconds = now_seconds() - run_start;
  result.total_seconds = state.earlier_seconds + result.seconds;
  if (stopped_early) {
    result.evals = state.evals;
    return result;
  }
  // Done: the checkpoint stays until the model directory exists, so nothing is lost on failure.
  checkpoint_now();
  if (!final_eval_windows.empty()) {
    const auto measured = evaluate(final_eval_windows);
    result.final_eval_ppl = measured.perplexity;
    result.final_eval_tokens = measured.tokens_scored;
    state.evals.push_back(
        {result.steps, state.tokens, last_loss, measured.perplexity, measured.tokens_scored});
    spdlog::info("final held-out perplexity {:.3f} ({} tokens, seq_len {})", measured.perplexity,
                 measured.tokens_scored, options.seq_len);
  }
  result.evals = state.evals;
  result.total_seconds = state.earlier_seconds + (now_seconds() - run_start);
  nlohmann::json trainer_state = {
      {"trainer", "slim train"},
      {"steps", result.steps},
      {"tokens_seen", result.tokens},
      {"training_tokens", stream.size()},
      {"epochs", double(result.steps) * options.batch_size * options.grad_accum /
                     double(order.windows_per_epoch())},
      {"wall_seconds", result.total_seconds},
      {"final_train_loss", last_loss},
      {"device", options.runtime.device.str()},
      {"compute_dtype", c10::toString(options.runtime.compute_dtype)},
      {"run", fingerprint},
      {"schedule", schedule},
      {"evals", evals_json(state.evals)}};
  if (result.final_eval_tokens > 0) {
    trainer_state["final_eval"] = {{"dataset", fs::path(options.eval_dataset).filename().string()},
                                   {"perplexity", result.final_eval_ppl},
                                   {"tokens", result.final_eval_tokens},
                                   {"seq_len", options.seq_len}};
  }
  write_model_directory(options, config, *tokenizer, optimizer, trainer_state);
  result.completed = true;
  spdlog::info("wrote {} ({} steps, {} tokens, {})", options.save_path, result.steps, result.tokens,
               format_duration(result.total_seconds));
  return result;
}

}  // namespace slim::train
