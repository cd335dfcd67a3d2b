// PEFT adapter_config.json: a file as PEFT's save_pretrained writes it, exact output
// text, round trips, and validation errors.
#include <gtest/gtest.h>

#include <fstream>

#include "lora/format/mapped_file.h"
#include "lora/format/peft_config.h"
#include "tests/lora/format/temp_dir.h"
#include "tests/lora/format/expect_error.h"

namespace fedlora::lora {
namespace {

// As written by PEFT 0.10 (json.dumps(indent=2, sort_keys=True), no trailing newline) for a LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05,
// target_modules=["v_proj", "q_proj"], task_type="CAUSAL_LM").
constexpr std::string_view kPeftWritten = R"({
  "alpha_pattern": {},
  "auto_mapping": null,
  "base_model_name_or_path": "TinyLlama/TinyLlama-1.1B-Chat-v1.0",
  "bias": "none",
  "fan_in_fan_out": false,
  "inference_mode": true,
  "init_lora_weights": true,
  "layers_pattern": null,
  "layers_to_transform": null,
  "loftq_config": {},
  "lora_alpha": 32,
  "lora_dropout": 0.05,
  "megatron_config": null,
  "megatron_core": "megatron.core",
  "modules_to_save": null,
  "peft_type": "LORA",
  "r": 16,
  "rank_pattern": {},
  "revision": null,
  "target_modules": [
    "v_proj",
    "q_proj"
  ],
  "task_type": "CAUSAL_LM",
  "use_dora": false,
  "use_rslora": false
})";

std::string error_of(std::string_view text) {
  try {
    parse_peft_config(text, "adapter_config.json");
  } catch (const PeftConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "parsed without error: " << text;
  return "";
}


PeftLoraConfig minimal() {
  PeftLoraConfig c;
  c.r = 8;
  c.lora_alpha = 16;
  c.target_modules = {"q_proj", "v_proj"};
  c.lora_dropout = 0.05f;
  c.base_model_name_or_path = "TinyLlama";
  return c;
}

TEST(PeftConfig, ParsesPeftOutput) {
  const PeftLoraConfig c = parse_peft_config(kPeftWritten);
  EXPECT_EQ(c.r, 16);
  EXPECT_EQ(c.lora_alpha, 32.0f);
  EXPECT_EQ(c.lora_dropout, 0.05f);
  EXPECT_EQ(c.target_modules, (std::vector<std::string>{"v_proj", "q_proj"}));
  EXPECT_EQ(c.bias, "none");
  EXPECT_EQ(c.task_type, "CAUSAL_LM");
  EXPECT_EQ(c.base_model_name_or_path, "TinyLlama/TinyLlama-1.1B-Chat-v1.0");
  EXPECT_FALSE(c.fan_in_fan_out);
  EXPECT_EQ(c.scaling(), 2.0f);
  // Unknown keys are preserved verbatim; known ones are not duplicated there.
  EXPECT_EQ(c.extra_json.at("inference_mode"), "true");
  EXPECT_EQ(c.extra_json.at("megatron_core"), "\"megatron.core\"");
  EXPECT_EQ(c.extra_json.at("loftq_config"), "{}");
  EXPECT_EQ(c.extra_json.at("revision"), "null");
  EXPECT_EQ(c.extra_json.count("r"), 0u);
  EXPECT_EQ(c.extra_json.count("peft_type"), 0u);
  EXPECT_EQ(c.extra_json.size(), 14u);  // 23 keys - 9 known
}

TEST(PeftConfig, RewritesPeftOutputIdentically) {
  // Same keys, same sorting and indentation as PEFT's json.dumps(indent=2, sort_keys=True).
  EXPECT_EQ(to_peft_json(parse_peft_config(kPeftWritten)), kPeftWritten);
}

TEST(PeftConfig, ExactTextOfMinimalConfig) {
  const std::string expected = R"({
  "base_model_name_or_path": "TinyLlama",
  "bias": "none",
  "fan_in_fan_out": false,
  "lora_alpha": 16,
  "lora_dropout": 0.05,
  "peft_type": "LORA",
  "r": 8,
  "target_modules": [
    "q_proj",
    "v_proj"
  ],
  "task_type": "CAUSAL_LM"
})";
  EXPECT_EQ(to_peft_json(minimal()), expected);
  PeftLoraConfig frac = minimal();
  frac.lora_alpha = 12.5f;
  frac.task_type = "";
  frac.base_model_name_or_path = "";
  const std::string text = to_peft_json(frac);
  EXPECT_NE(text.find("\"lora_alpha\": 12.5,"), std::string::npos) << text;
  EXPECT_NE(text.find("\"task_type\": null"), std::string::npos) << text;
  EXPECT_NE(text.find("\"base_model_name_or_path\": null"), std::string::npos) << text;
}

TEST(PeftConfig, RoundTripThroughFile) {
  test::TempDir dir;
  PeftLoraConfig c = minimal();
  c.fan_in_fan_out = true;
  c.bias = "lora_only";
  c.lora_dropout = 0.1f;
  c.extra_json["inference_mode"] = "false";
  c.extra_json["fedlora"] = R"({"round":3})";
  write_peft_config(dir / "adapter_config.json", c);
  EXPECT_EQ(read_peft_config(dir / "adapter_config.json"), c);
  EXPECT_THROW(read_peft_config(dir / "absent.json"), IoError);
}

TEST(PeftConfig, MissingFieldsTakePeftDefaults) {
  const PeftLoraConfig c = parse_peft_config(R"({"peft_type": "LORA", "target_modules": ["q_proj"]})");
  EXPECT_EQ(c.r, 8);
  EXPECT_EQ(c.lora_alpha, 8.0f);
  EXPECT_EQ(c.lora_dropout, 0.0f);
  EXPECT_EQ(c.bias, "none");
  EXPECT_EQ(c.task_type, "");
  EXPECT_TRUE(c.extra_json.empty());
  // Empty patterns and null lists are the defaults and are accepted.
  EXPECT_NO_THROW(parse_peft_config(
      R"({"peft_type":"LORA","target_modules":["q"],"rank_pattern":{},"modules_to_save":null,"use_dora":false})"));
}

TEST(PeftConfig, ValidationErrors) {
  EXPECT_MSG_HAS(error_of("{"), "not valid JSON");
  EXPECT_MSG_HAS(error_of("[]"), "must be a JSON object");
  EXPECT_MSG_HAS(error_of(R"({"target_modules":["q"]})"), "peft_type is missing");
  EXPECT_MSG_HAS(error_of(R"({"peft_type":"IA3","target_modules":["q"]})"), "only \"LORA\"");
  EXPECT_MSG_HAS(error_of(R"({"peft_type":"LORA","r":0,"target_modules":["q"]})"), "r must be in 1..");
  EXPECT_MSG_HAS(error_of(R"({"peft_type":"LORA","r":-4,"target_modules":["q"]})"), "r must be in 1..");
  EXPECT_MSG_HAS(error_of(R"({"peft_type":"LORA","r":2.5,"target_modules":["q"]})"), "r must be an integer");
  EXPECT_MSG_HAS(error_of(R"({"peft_type":"LORA","r":"8","target_modules":["q"]})"), "r must be an integer");
  EXPECT_MSG_HAS(error_of(R"({"peft_type":"LORA","lora_alpha":0,"target_modules":["q"]})"), "lora_alpha must be");
  EXPECT_MSG_HAS(error_of(R"({"peft_type":"LORA","lora_alpha":-1,"target_modules":["q"]})"), "lora_alpha must be");
  EXPECT_MSG_HAS(error_of(R"({"peft_type":"LORA","lora_alpha":"16","target_modules":["q"]})"), "must be a number");
  EXPECT_MSG_HAS(error_of(R"({"peft_type":"LORA","lora_dropout":1.0,"target_modules":["q"]})"), "lora_dropout");
  EXPECT_MSG_HAS(error_of(R"({"peft_type":"LORA"})"), "target_modules is missing");
  EXPECT_MSG_HAS(error_of(R"({"peft_type":"LORA","target_modules":[]})"), "target_modules is empty");
  EXPECT_MSG_HAS(error_of(R"({"peft_type":"LORA","target_modules":[""]})"), "empty name");
  EXPECT_MSG_HAS(error_of(R"({"peft_type":"LORA","target_modules":"all-linear"})"), "explicit list");
  EXPECT_MSG_HAS(error_of(R"({"peft_type":"LORA","target_modules":[1]})"), "expected strings");
  EXPECT_MSG_HAS(error_of(R"({"peft_type":"LORA","target_modules":["q"],"bias":"some"})"), "bias must be");
  EXPECT_MSG_HAS(error_of(R"({"peft_type":"LORA","target_modules":["q"],"fan_in_fan_out":1})"), "true or false");
  EXPECT_MSG_HAS(error_of(R"({"peft_type":"LORA","target_modules":["q"],"use_dora":true})"), "use_dora");
  EXPECT_MSG_HAS(error_of(R"({"peft_type":"LORA","target_modules":["q"],"use_rslora":true})"), "use_rslora");
  EXPECT_MSG_HAS(error_of(R"({"peft_type":"LORA","target_modules":["q"],"rank_pattern":{"q":4}})"), "rank_pattern");
  EXPECT_MSG_HAS(error_of(R"({"peft_type":"LORA","target_modules":["q"],"modules_to_save":["lm_head"]})"),
                 "modules_to_save");
  EXPECT_MSG_HAS(error_of(R"({"peft_type":"LORA","target_modules":["q"],"layers_to_transform":[0]})"),
                 "layers_to_transform");
  // The source name appears in messages.
  EXPECT_MSG_HAS(error_of(R"({"peft_type":"LORA"})"), "adapter_config.json");

  PeftLoraConfig c = minimal();
  c.extra_json["r"] = "4";
  EXPECT_THROW(validate(c), PeftConfigError);
  c = minimal();
  c.extra_json["x"] = "{not json";
  EXPECT_THROW(to_peft_json(c), PeftConfigError);
  c = minimal();
  c.r = 0;
  EXPECT_THROW(to_peft_json(c), PeftConfigError);
  EXPECT_NO_THROW(validate(minimal()));
}

}  // namespace
}  // namespace fedlora::lora
