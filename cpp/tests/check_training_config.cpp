// The training run config (cpp/training/trainer_config): every default, the round trip through
// to_json, and a ConfigError naming the field for an unknown field, a wrong type or a value out
// of range, at every level.
#include <nlohmann/json.hpp>

#include "check.h"
#include "training/trainer_config.h"

namespace {

using nlohmann::json;

// The ConfigError message of a config, or "" when it is accepted.
std::string error_of(const json& j) {
  try {
    (void)psic::TrainingRunConfig::from_json(j);
  } catch (const psic::ConfigError& e) {
    return e.what();
  }
  return "";
}

json minimal() { return {{"model", "m.safetensors"}}; }

json with(json j, const json& patch) {
  j.merge_patch(patch);
  return j;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

PSIC_CHECK_CASE("training config: a minimal config resolves to the documented defaults") {
  const psic::TrainingRunConfig c = psic::TrainingRunConfig::from_json(minimal());
  EXPECT(c.trainer.stage == 1);
  EXPECT(c.steps == 1000);
  EXPECT(c.trainer.lambda == 0.013);
  EXPECT(c.trainer.lr == 1e-4);
  EXPECT(c.trainer.aux_lr == 1e-3);
  EXPECT(c.trainer.clip_max_norm == 1);
  EXPECT(c.trainer.schedule == psic::TrainingSchedule::Alternate);
  EXPECT(c.trainer.balance == psic::AttackBalance::Fixed);
  EXPECT(c.trainer.attack_weight == 1);
  EXPECT(c.trainer.protected_psnr == 30);
  EXPECT(c.trainer.dual_lr == 0.05);
  EXPECT(c.trainer.uaeo.variant == psic::UaeoVariant::Paper);
  EXPECT(c.trainer.uaeo.s == 0.1);
  EXPECT(c.trainer.wrong_keys == 2);
  EXPECT(c.trainer.seed == 0);
  EXPECT(c.trainer.device == "cpu");
  EXPECT(!c.trainer.conditioning_only);
  EXPECT(c.log_every == 10);
  EXPECT(c.checkpoint_every == 200);
  EXPECT(c.output == "m.trained.safetensors");
  EXPECT(c.checkpoint == "m.trained.ckpt.safetensors");
  EXPECT(!c.data && c.targets.empty() && !c.distributed && !c.threads && !c.key && !c.key_file);
  const json j = c.to_json();
  EXPECT(j["lambda"] == 0.013 && j["schedule"] == "alternate" && j["balance"] == "fixed" && j["uaeo"] == "paper");
  EXPECT(j["temperature"] == 0.1 && j["wrongKeys"] == 2 && j["logEvery"] == 10 && j["checkpointEvery"] == 200);
  const json d = psic::TrainingRunConfig::from_json(with(minimal(), {{"data", {{"dir", "faces"}}}})).to_json()["data"];
  EXPECT(d == json({{"dir", "faces"}, {"crop", 128}, {"batchSize", 8}, {"prefetch", 2}}));
  EXPECT(psic::default_output("a/m.pth.tar") == "a/m.pth.tar.trained.safetensors");
  EXPECT(psic::default_checkpoint("o.bin") == "o.bin.ckpt.safetensors");
}

PSIC_CHECK_CASE("training config: to_json round-trips every field") {
  const json full = json::parse(R"({
    "model": "m.safetensors", "key": "a1a1", "keyFile": "k.key",
    "data": {"dir": "d", "annotations": "a.csv", "crop": 256, "batchSize": 4, "limit": 32, "files": ["x.png", "y.png"], "prefetch": 0},
    "targets": [{"target": "human:emotion", "weight": 1.0}, {"target": "clip:c.safetensors", "weight": 0.5, "classes": ["cat", "dog"]}],
    "stage": 2, "conditioningOnly": true, "steps": 0, "lambda": 0.0483, "lr": 5e-5, "auxLr": 2e-3, "clipMaxNorm": 0.0,
    "schedule": "mixed", "balance": "adaptive", "attackWeight": 0.0, "protectedPsnr": 28.5, "dualLr": 0.2, "uaeo": "code",
    "temperature": 0.25, "wrongKeys": 64, "seed": 9007199254740991, "logEvery": 1, "checkpoint": "c.ckpt",
    "checkpointEvery": 7, "output": "o.safetensors", "device": "cuda:1", "threads": 3,
    "distributed": {"worldSize": 4, "rank": 3, "master": "[::1]:29500", "timeoutSeconds": 1.5}})");
  const psic::TrainingRunConfig c = psic::TrainingRunConfig::from_json(full);
  EXPECT_MSG(c.to_json() == full, json::diff(full, c.to_json()).dump());
  EXPECT(psic::TrainingRunConfig::from_json(c.to_json()).to_json() == full);
  EXPECT(c.trainer.uaeo.code_stage2_weighting);
  EXPECT(c.is_distributed() && c.distributed->host == "::1" && c.distributed->port == 29500);
  // A float that is an integer is one.
  EXPECT(psic::TrainingRunConfig::from_json(with(minimal(), {{"steps", 5.0}})).steps == 5);
  // Text: the same config, and ConfigError for text that is not JSON.
  EXPECT(psic::TrainingRunConfig::parse(full.dump()).to_json() == full);
  EXPECT_THROWS_AS(psic::TrainingRunConfig::parse("{\"model\": "), psic::ConfigError);
  EXPECT_THROWS_AS(psic::TrainingRunConfig::parse("[1]"), psic::ConfigError);
}

PSIC_CHECK_CASE("training config: unknown fields, wrong types and out-of-range values name the field") {
  // {patch of the minimal config, what the error says}
  const std::vector<std::pair<const char*, const char*>> cases = {
      {R"({"lamda": 0.01})", "unknown config field 'lamda' (did you mean 'lambda'?)"},
      {R"({"data": {"dir": "d", "crp": 64}})", "unknown config field 'data.crp' (did you mean 'data.crop'?)"},
      {R"({"targets": [{"target": "human:age", "weigth": 1}]})", "unknown config field 'targets[0].weigth'"},
      {R"({"distributed": {"worldSize": 1, "ranks": 0}})", "unknown config field 'distributed.ranks'"},
      {R"({"whatever": 1})", "unknown config field 'whatever'"},
      {R"({"lr": "0.1"})", "config field 'lr' must be a number, got \"0.1\""},
      {R"({"stage": "2"})", "config field 'stage' must be 1 or 2, got \"2\""},
      {R"({"conditioningOnly": 1})", "config field 'conditioningOnly' must be true or false, got 1"},
      {R"({"schedule": 1})", "config field 'schedule' must be one of 'alternate', 'mixed', got 1"},
      {R"({"model": 5})", "config field 'model' must be a string, got 5"},
      {R"({"data": "faces"})", "config field 'data' must be an object, got \"faces\""},
      {R"({"data": {"dir": "d", "files": ["a", 2]}})", "config field 'data.files[1]' must be a string, got 2"},
      {R"({"targets": {"target": "human:age"}})", "config field 'targets' must be an array"},
      {R"({"targets": ["human:age"]})", "config field 'targets[0]' must be an object, got \"human:age\""},
      {R"({"distributed": {"worldSize": 2.5}})", "config field 'distributed.worldSize' must be an integer in [1, 1024], got 2.5"},
      {R"({"seed": null})", "config field 'seed' must be a non-negative integer, got null"},
      {R"({"model": null})", "config field 'model' must be a string, got null"},
      {R"({"temperature": 1.5})", "config field 'temperature' must be in (0, 1), got 1.5"},
      {R"({"data": {"dir": "d", "crop": 100}})", "config field 'data.crop' must be a multiple of 64, got 100"},
      {R"({"data": {"dir": "d", "batchSize": 0}})", "config field 'data.batchSize' must be a positive integer, got 0"},
      {R"({"data": {"dir": "d", "limit": 0}})", "config field 'data.limit' must be a positive integer, got 0"},
      {R"({"data": {"dir": "d", "prefetch": -1}})", "config field 'data.prefetch' must be a non-negative integer, got -1"},
      {R"({"wrongKeys": 65})", "config field 'wrongKeys' must be an integer in [0, 64], got 65"},
      {R"({"stage": 3})", "config field 'stage' must be 1 or 2, got 3"},
      {R"({"lambda": 0})", "config field 'lambda' must be positive, got 0"},
      {R"({"lr": -1})", "config field 'lr' must be positive, got -1"},
      {R"({"auxLr": 0})", "config field 'auxLr' must be positive, got 0"},
      {R"({"dualLr": 0})", "config field 'dualLr' must be positive, got 0"},
      {R"({"attackWeight": -1})", "config field 'attackWeight' must be non-negative, got -1"},
      {R"({"clipMaxNorm": -0.5})", "config field 'clipMaxNorm' must be non-negative, got -0.5"},
      {R"({"protectedPsnr": 100})", "config field 'protectedPsnr' must be in (0, 100) dB, got 100"},
      {R"({"uaeo": "x"})", "config field 'uaeo' must be one of 'paper', 'code', 'naive', got \"x\""},
      {R"({"balance": "inverse"})", "config field 'balance' must be one of 'fixed', 'inverse-loss', 'adaptive', got \"inverse\""},
      {R"({"steps": -1})", "config field 'steps' must be a non-negative integer, got -1"},
      {R"({"logEvery": 0})", "config field 'logEvery' must be a positive integer, got 0"},
      {R"({"checkpointEvery": 1.5})", "config field 'checkpointEvery' must be a positive integer, got 1.5"},
      {R"({"seed": 9007199254740992})", "config field 'seed' must be a non-negative integer"},
      {R"({"threads": 0})", "config field 'threads' must be an integer in [1, 1024], got 0"},
      {R"({"device": "gpu"})", "config field 'device' must be 'cpu', 'cuda' or 'cuda:N', got \"gpu\""},
      {R"({"conditioningOnly": true})", "config field 'conditioningOnly' must be false unless stage is 2, got true"},
      {R"({"targets": [{"target": "human:age", "weight": -1}]})", "config field 'targets[0].weight' must be non-negative, got -1"},
      {R"({"distributed": {"worldSize": 2, "rank": 2, "master": "h:1"}})", "config field 'distributed.rank' must be an integer in [0, 2), got 2"},
      {R"({"distributed": {"worldSize": 2, "master": "localhost"}})", "config field 'distributed.master' must be ADDR:PORT"},
      {R"({"distributed": {"worldSize": 2, "master": "127.0.0.1:70000"}})", "config field 'distributed.master' must be ADDR:PORT"},
      {R"({"distributed": {"worldSize": 2}})", "config field 'distributed.master' is required"},
      {R"({"distributed": {"timeoutSeconds": 0}})", "config field 'distributed.timeoutSeconds' must be in (0, 86400] seconds, got 0"},
      {R"({"data": {"crop": 64}})", "config field 'data.dir' is required"},
      {R"({"targets": [{"weight": 1}]})", "config field 'targets[0].target' is required"},
  };
  for (const auto& [patch, message] : cases) {
    json j = minimal();
    const json p = json::parse(patch);
    for (auto it = p.begin(); it != p.end(); ++it) j[it.key()] = it.value();  // a null stays a null
    const std::string got = error_of(j);
    EXPECT_MSG(contains(got, message), j.dump() + ": expected \"" + message + "\", got \"" + got + "\"");
  }
  json no_model = minimal();
  no_model.erase("model");
  EXPECT(contains(error_of(no_model), "config field 'model' is required"));
  EXPECT(contains(error_of(json::array()), "must be a JSON object"));
}

PSIC_CHECK_CASE("training config: ADDR:PORT as parseMaster took it") {
  auto hp = psic::parse_host_port("127.0.0.1:29500");
  EXPECT(hp && hp->host == "127.0.0.1" && hp->port == 29500);
  hp = psic::parse_host_port("[fe80::1%eth0]:1");
  EXPECT(hp && hp->host == "fe80::1%eth0" && hp->port == 1);
  hp = psic::parse_host_port("node-3.cluster:65535");
  EXPECT(hp && hp->host == "node-3.cluster" && hp->port == 65535);
  for (const char* bad : {"localhost", ":29500", "h:0", "h:65536", "h:123456", "h:12a", "::1:29500", "[::1]29500", "a b:1", "h:", "[::1]:"})
    EXPECT_MSG(!psic::parse_host_port(bad), std::string("accepted '") + bad + "'");
}
