#include "training/trainer_config.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <utility>

#include "errors.h"

namespace psic {

using nlohmann::json;

namespace {

// JSON numbers a JavaScript caller can hold exactly: integers up to 2^53 − 1.
constexpr int64_t kMaxSafeInteger = (int64_t{1} << 53) - 1;

[[noreturn]] void bad(const std::string& path, const std::string& what, const json& got) {
  throw ConfigError("config field '" + path + "' must be " + what + ", got " + got.dump());
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

bool is_device_name(const std::string& d) {
  if (d == "cpu" || d == "cuda") return true;
  if (d.rfind("cuda:", 0) != 0 || d.size() < 6 || d.size() > 8) return false;
  return std::all_of(d.begin() + 5, d.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// One JSON object of the config: rejects fields it does not know, reads the others by type.
// Each reader leaves `out` (the default) alone when the field is absent and returns whether it
// was present.
class Fields {
 public:
  Fields(const json& j, const std::string& path, std::initializer_list<const char*> known) : j_(j), prefix_(path.empty() ? "" : path + ".") {
    if (!j.is_object()) {
      if (path.empty()) throw ConfigError("a training config must be a JSON object, got " + j.dump());
      bad(path, "an object", j);
    }
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (std::any_of(known.begin(), known.end(), [&](const char* k) { return it.key() == k; })) continue;
      std::string message = "unknown config field '" + prefix_ + it.key() + "'";
      const char* nearest = nullptr;
      size_t best = 3;  // suggest a name at most 2 edits away
      for (const char* k : known) {
        const size_t d = edit_distance(it.key(), k);
        if (d < best) best = d, nearest = k;
      }
      if (nearest) message += " (did you mean '" + prefix_ + nearest + "'?)";
      throw ConfigError(message);
    }
  }

  std::string path(const char* name) const { return prefix_ + name; }
  const json* find(const char* name) const {
    auto it = j_.find(name);
    return it == j_.end() ? nullptr : &*it;
  }

  bool number(const char* name, double& out) const {
    const json* v = find(name);
    if (!v) return false;
    if (!v->is_number()) bad(path(name), "a number", *v);
    out = v->get<double>();
    return true;
  }
  // An integer in [lo, hi]; `what` says so in the error ("a positive integer", "1 or 2"...).
  template <typename Int>
  bool integer(const char* name, Int& out, int64_t lo, int64_t hi, const std::string& what) const {
    const json* v = find(name);
    if (!v) return false;
    int64_t value = 0;
    if (v->is_number_unsigned()) {
      const uint64_t u = v->get<uint64_t>();
      if (u > static_cast<uint64_t>(hi)) bad(path(name), what, *v);
      value = static_cast<int64_t>(u);
    } else if (v->is_number_integer()) {
      value = v->get<int64_t>();
    } else if (v->is_number_float()) {
      const double d = v->get<double>();
      if (!std::isfinite(d) || std::floor(d) != d || d < static_cast<double>(lo) || d > static_cast<double>(hi)) bad(path(name), what, *v);
      value = static_cast<int64_t>(d);
    } else {
      bad(path(name), what, *v);
    }
    if (value < lo || value > hi) bad(path(name), what, *v);
    out = static_cast<Int>(value);
    return true;
  }
  bool text(const char* name, std::string& out) const {
    const json* v = find(name);
    if (!v) return false;
    if (!v->is_string()) bad(path(name), "a string", *v);
    out = v->get<std::string>();
    return true;
  }
  bool text(const char* name, std::optional<std::string>& out) const {
    std::string s;
    if (!text(name, s)) return false;
    out = s;
    return true;
  }
  bool boolean(const char* name, bool& out) const {
    const json* v = find(name);
    if (!v) return false;
    if (!v->is_boolean()) bad(path(name), "true or false", *v);
    out = v->get<bool>();
    return true;
  }
  bool strings(const char* name, std::optional<std::vector<std::string>>& out) const {
    const json* v = find(name);
    if (!v) return false;
    if (!v->is_array()) bad(path(name), "an array of strings", *v);
    std::vector<std::string> all;
    for (size_t i = 0; i < v->size(); ++i) {
      if (!(*v)[i].is_string()) bad(path(name) + "[" + std::to_string(i) + "]", "a string", (*v)[i]);
      all.push_back((*v)[i].get<std::string>());
    }
    out = std::move(all);
    return true;
  }
  template <typename E>
  bool choice(const char* name, E& out, std::initializer_list<std::pair<const char*, E>> options) const {
    const json* v = find(name);
    if (!v) return false;
    std::string what = "one of";
    for (const auto& [n, e] : options) {
      if (v->is_string() && v->get<std::string>() == n) {
        out = e;
        return true;
      }
      what += std::string(what.size() > 6 ? ", '" : " '") + n + "'";
    }
    bad(path(name), what, *v);
  }

 private:
  const json& j_;
  std::string prefix_;
};

template <typename E>
const char* name_of(E value, std::initializer_list<std::pair<const char*, E>> options) {
  for (const auto& [n, e] : options)
    if (e == value) return n;
  return "?";
}

const std::initializer_list<std::pair<const char*, TrainingSchedule>> kSchedules = {{"alternate", TrainingSchedule::Alternate},
                                                                                   {"mixed", TrainingSchedule::Mixed}};
const std::initializer_list<std::pair<const char*, AttackBalance>> kBalances = {
    {"fixed", AttackBalance::Fixed}, {"inverse-loss", AttackBalance::InverseLoss}, {"adaptive", AttackBalance::Adaptive}};
const std::initializer_list<std::pair<const char*, UaeoVariant>> kUaeoVariants = {
    {"paper", UaeoVariant::Paper}, {"code", UaeoVariant::Code}, {"naive", UaeoVariant::Naive}};

TrainingDataConfig read_data(const json& j) {
  const Fields f(j, "data", {"dir", "annotations", "crop", "batchSize", "limit", "files", "prefetch"});
  TrainingDataConfig d;
  if (!f.text("dir", d.dir) || d.dir.empty()) throw ConfigError("config field 'data.dir' is required: the image folder");
  f.text("annotations", d.annotations);
  if (f.integer("crop", d.crop, 0, kMaxSafeInteger, "a multiple of 64") && (d.crop < 64 || d.crop % 64 != 0))
    bad("data.crop", "a multiple of 64", d.crop);
  f.integer("batchSize", d.batch_size, 1, kMaxSafeInteger, "a positive integer");
  int64_t limit = 0;
  if (f.integer("limit", limit, 1, kMaxSafeInteger, "a positive integer")) d.limit = limit;
  f.strings("files", d.files);
  f.integer("prefetch", d.prefetch, 0, kMaxSafeInteger, "a non-negative integer");
  return d;
}

TrainingTargetConfig read_target(const json& j, const std::string& path) {
  const Fields f(j, path, {"target", "weight", "classes"});
  TrainingTargetConfig t;
  if (!f.text("target", t.target)) throw ConfigError("config field '" + path + ".target' is required: 'human:NAME' or 'clip:PATH'");
  if (f.number("weight", t.weight) && !(t.weight >= 0 && std::isfinite(t.weight))) bad(path + ".weight", "non-negative", t.weight);
  f.strings("classes", t.classes);
  return t;
}

TrainingDistributedConfig read_distributed(const json& j) {
  const Fields f(j, "distributed", {"worldSize", "rank", "master", "timeoutSeconds"});
  TrainingDistributedConfig d;
  f.integer("worldSize", d.world_size, 1, 1024, "an integer in [1, 1024]");
  f.integer("rank", d.rank, 0, d.world_size - 1, "an integer in [0, " + std::to_string(d.world_size) + ")");
  if (f.number("timeoutSeconds", d.timeout_seconds) && !(d.timeout_seconds > 0 && d.timeout_seconds <= 86400))
    bad("distributed.timeoutSeconds", "in (0, 86400] seconds", d.timeout_seconds);
  const char* master_rule = "ADDR:PORT (rank 0's address; an IPv6 address in brackets: '[::1]:29500')";
  if (f.text("master", d.master)) {
    const std::optional<HostPort> hp = parse_host_port(d.master);
    if (!hp) bad("distributed.master", master_rule, d.master);
    d.host = hp->host;
    d.port = hp->port;
  } else if (d.world_size > 1) {
    throw ConfigError(std::string("config field 'distributed.master' is required with several ranks: ") + master_rule);
  }
  return d;
}

}  // namespace

void validate(const TrainerConfig& c) {
  auto need = [](bool ok, const char* field, const char* what, const json& got) {
    if (!ok) bad(field, what, got);
  };
  auto finite = [](double x) { return std::isfinite(x); };
  need(c.stage == 1 || c.stage == 2, "stage", "1 or 2", c.stage);
  need(!c.conditioning_only || c.stage == 2, "conditioningOnly", "false unless stage is 2", c.conditioning_only);
  need(finite(c.lambda) && c.lambda > 0, "lambda", "positive", c.lambda);
  need(finite(c.lr) && c.lr > 0, "lr", "positive", c.lr);
  need(finite(c.aux_lr) && c.aux_lr > 0, "auxLr", "positive", c.aux_lr);
  need(finite(c.clip_max_norm) && c.clip_max_norm >= 0, "clipMaxNorm", "non-negative", c.clip_max_norm);
  need(finite(c.attack_weight) && c.attack_weight >= 0, "attackWeight", "non-negative", c.attack_weight);
  need(c.protected_psnr > 0 && c.protected_psnr < 100, "protectedPsnr", "in (0, 100) dB", c.protected_psnr);
  need(finite(c.dual_lr) && c.dual_lr > 0, "dualLr", "positive", c.dual_lr);
  need(c.uaeo.s > 0 && c.uaeo.s < 1, "temperature", "in (0, 1)", c.uaeo.s);
  need(c.wrong_keys >= 0 && c.wrong_keys <= 64, "wrongKeys", "an integer in [0, 64]", c.wrong_keys);
  need(c.seed <= static_cast<uint64_t>(kMaxSafeInteger), "seed", "a non-negative integer below 2^53", c.seed);
  need(is_device_name(c.device), "device", "'cpu', 'cuda' or 'cuda:N'", c.device);
}

std::string default_output(const std::string& model) {
  const std::string ext = ".safetensors";
  const bool has = model.size() >= ext.size() && model.compare(model.size() - ext.size(), ext.size(), ext) == 0;
  return (has ? model.substr(0, model.size() - ext.size()) : model) + ".trained.safetensors";
}

std::string default_checkpoint(const std::string& output) {
  const std::string ext = ".safetensors";
  const bool has = output.size() >= ext.size() && output.compare(output.size() - ext.size(), ext.size(), ext) == 0;
  return (has ? output.substr(0, output.size() - ext.size()) : output) + ".ckpt.safetensors";
}

std::optional<HostPort> parse_host_port(const std::string& s) {
  auto port_of = [](const std::string& digits) -> int {
    if (digits.empty() || digits.size() > 5) return 0;
    for (char c : digits)
      if (c < '0' || c > '9') return 0;
    const int port = std::stoi(digits);
    return port <= 65535 ? port : 0;
  };
  // '[host]:port', the host anything but ']'.
  if (!s.empty() && s[0] == '[') {
    const size_t close = s.find(']');
    if (close != std::string::npos && close > 1 && close + 1 < s.size() && s[close + 1] == ':') {
      if (const int port = port_of(s.substr(close + 2))) return HostPort{s.substr(1, close - 1), port};
    }
  }
  // 'host:port', the host without ':' or white space.
  const size_t colon = s.find(':');
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  const std::string host = s.substr(0, colon);
  if (std::any_of(host.begin(), host.end(), [](char c) { return c == ' ' || (c >= '\t' && c <= '\r'); })) return std::nullopt;
  if (const int port = port_of(s.substr(colon + 1))) return HostPort{host, port};
  return std::nullopt;
}

TrainingRunConfig TrainingRunConfig::from_json(const json& j) {
  const Fields f(j, "", {"model", "key", "keyFile", "data", "targets", "stage", "conditioningOnly", "steps", "lambda", "lr", "auxLr",
                         "clipMaxNorm", "schedule", "balance", "attackWeight", "protectedPsnr", "dualLr", "uaeo", "temperature",
                         "wrongKeys", "seed", "logEvery", "checkpoint", "checkpointEvery", "output", "device", "threads",
                         "distributed"});
  TrainingRunConfig c;
  if (!f.text("model", c.model) || c.model.empty())
    throw ConfigError("config field 'model' is required: the path of a PSIC model file ('psic model init ... -o M')");
  f.text("key", c.key);
  f.text("keyFile", c.key_file);
  if (const json* d = f.find("data")) c.data = read_data(*d);
  if (const json* t = f.find("targets")) {
    if (!t->is_array()) bad("targets", "an array of {target: 'human:NAME' | 'clip:PATH', weight?, classes?}", *t);
    for (size_t i = 0; i < t->size(); ++i) c.targets.push_back(read_target((*t)[i], "targets[" + std::to_string(i) + "]"));
  }

  TrainerConfig& t = c.trainer;
  f.integer("stage", t.stage, 1, 2, "1 or 2");
  f.boolean("conditioningOnly", t.conditioning_only);
  f.integer("steps", c.steps, 0, kMaxSafeInteger, "a non-negative integer");
  f.number("lambda", t.lambda);
  f.number("lr", t.lr);
  f.number("auxLr", t.aux_lr);
  f.number("clipMaxNorm", t.clip_max_norm);
  f.choice("schedule", t.schedule, kSchedules);
  f.choice("balance", t.balance, kBalances);
  f.number("attackWeight", t.attack_weight);
  f.number("protectedPsnr", t.protected_psnr);
  f.number("dualLr", t.dual_lr);
  f.choice("uaeo", t.uaeo.variant, kUaeoVariants);
  f.number("temperature", t.uaeo.s);
  // The authors' code weighs its stage-2 attack terms by their inverse losses.
  t.uaeo.code_stage2_weighting = t.uaeo.variant == UaeoVariant::Code && t.stage == 2;
  f.integer("wrongKeys", t.wrong_keys, 0, 64, "an integer in [0, 64]");
  f.integer("seed", t.seed, 0, kMaxSafeInteger, "a non-negative integer");
  f.text("device", t.device);
  validate(t);

  f.integer("logEvery", c.log_every, 1, kMaxSafeInteger, "a positive integer");
  f.integer("checkpointEvery", c.checkpoint_every, 1, kMaxSafeInteger, "a positive integer");
  if (!f.text("output", c.output)) c.output = default_output(c.model);
  if (!f.text("checkpoint", c.checkpoint)) c.checkpoint = default_checkpoint(c.output);
  int threads = 0;
  if (f.integer("threads", threads, 1, 1024, "an integer in [1, 1024]")) c.threads = threads;
  if (const json* d = f.find("distributed")) c.distributed = read_distributed(*d);
  return c;
}

TrainingRunConfig TrainingRunConfig::parse(const std::string& json_text) {
  const json j = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) throw ConfigError("the training config is not valid JSON");
  return from_json(j);
}

json TrainingRunConfig::to_json() const {
  json j = json::object();
  j["model"] = model;
  if (key) j["key"] = *key;
  if (key_file) j["keyFile"] = *key_file;
  if (data) {
    json d = {{"dir", data->dir}, {"crop", data->crop}, {"batchSize", data->batch_size}, {"prefetch", data->prefetch}};
    if (data->annotations) d["annotations"] = *data->annotations;
    if (data->limit) d["limit"] = *data->limit;
    if (data->files) d["files"] = *data->files;
    j["data"] = d;
  }
  j["targets"] = json::array();
  for (const TrainingTargetConfig& t : targets) {
    json o = {{"target", t.target}, {"weight", t.weight}};
    if (t.classes) o["classes"] = *t.classes;
    j["targets"].push_back(o);
  }
  const TrainerConfig& t = trainer;
  j["stage"] = t.stage;
  j["conditioningOnly"] = t.conditioning_only;
  j["steps"] = steps;
  j["lambda"] = t.lambda;
  j["lr"] = t.lr;
  j["auxLr"] = t.aux_lr;
  j["clipMaxNorm"] = t.clip_max_norm;
  j["schedule"] = name_of(t.schedule, kSchedules);
  j["balance"] = name_of(t.balance, kBalances);
  j["attackWeight"] = t.attack_weight;
  j["protectedPsnr"] = t.protected_psnr;
  j["dualLr"] = t.dual_lr;
  j["uaeo"] = name_of(t.uaeo.variant, kUaeoVariants);
  j["temperature"] = t.uaeo.s;
  j["wrongKeys"] = t.wrong_keys;
  j["seed"] = t.seed;
  j["device"] = t.device;
  j["logEvery"] = log_every;
  j["checkpointEvery"] = checkpoint_every;
  j["output"] = output;
  j["checkpoint"] = checkpoint;
  if (threads) j["threads"] = *threads;
  if (distributed) {
    json d = {{"worldSize", distributed->world_size}, {"rank", distributed->rank}, {"timeoutSeconds", distributed->timeout_seconds}};
    if (!distributed->master.empty()) d["master"] = distributed->master;
    j["distributed"] = d;
  }
  return j;
}

}  // namespace psic
