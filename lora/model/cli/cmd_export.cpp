#include "lora/model/cli/cmd_export.h"

#include <cstdio>
#include <memory>
#include <string>

#include "lora/export/adapter_for_base.h"
#include "lora/export/gguf_adapter.h"
#include "lora/export/merge_adapter.h"
#include "lora/format/gguf_reader.h"
#include "lora/model/cli/weight_type.h"

namespace fedlora::lora::cli {

std::function<int()> add_export_commands(CLI::App& app) {
  struct Args {
    std::string adapter, base, out, type = "f32";
  };
  auto ex = std::make_shared<Args>();
  auto* exc = app.add_subcommand("export-adapter", "write a run's PEFT adapter as a GGUF LoRA adapter for llama.cpp");
  exc->add_option("adapter", ex->adapter, "PEFT adapter directory (a run's adapter/)")->required();
  exc->add_option("--base", ex->base, "the GGUF base the adapter was trained on")->required();
  exc->add_option("--out", ex->out, "output adapter GGUF")->required();
  exc->add_option("--type", ex->type, "tensor type: f32 or f16")->capture_default_str();

  auto mg = std::make_shared<Args>();
  mg->type = "f16";
  auto* mgc = app.add_subcommand("merge", "fold a LoRA adapter into its base: W + (alpha/r)·B·A, as one GGUF");
  mgc->add_option("--base", mg->base, "GGUF base")->required();
  mgc->add_option("--adapter", mg->adapter, "PEFT adapter directory (a run's adapter/)")->required();
  mgc->add_option("--out", mg->out, "output GGUF")->required();
  mgc->add_option("--type", mg->type, "weight type: f32, f16, q8_0 or q4_0")->capture_default_str();

  return [=]() -> int {
    if (*exc) {
      auto base = gguf::GgufFile::open(ex->base);
      const auto adapter = read_peft_adapter_for_base(ex->adapter, describe_base(base));
      write_gguf_lora_adapter(ex->out, adapter.layout, adapter.flat, base, parse_weight_type(ex->type));
      std::printf("wrote %s: %zu LoRA tensors, rank %d, alpha %g (use: llama-cli -m %s --lora %s)\n", ex->out.c_str(),
                  adapter.layout.tensors().size(), adapter.layout.rank(), static_cast<double>(adapter.layout.alpha()),
                  ex->base.c_str(), ex->out.c_str());
      return 0;
    }
    if (*mgc) {
      auto base = gguf::GgufFile::open(mg->base);
      const auto adapter = read_peft_adapter_for_base(mg->adapter, describe_base(base));
      const auto rep = merge_adapter_into_base(mg->base, adapter, mg->out, parse_weight_type(mg->type));
      std::printf("wrote %s (%llu bytes): %lld projections merged at scale %g\n", mg->out.c_str(),
                  static_cast<unsigned long long>(rep.file_bytes), static_cast<long long>(rep.merged_tensors),
                  static_cast<double>(adapter.layout.scale()));
      return 0;
    }
    return -1;
  };
}

}  // namespace fedlora::lora::cli
