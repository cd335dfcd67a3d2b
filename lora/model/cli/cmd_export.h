#pragma once
// fedlora-model export-adapter / merge: adapters and merged bases for llama.cpp.
#include <CLI/CLI.hpp>
#include <functional>

namespace fedlora::lora::cli {

/// Registers `export-adapter` and `merge` on `app`; returns the runner of whichever was chosen
/// (empty when neither). Runners throw on errors; main reports them.
std::function<int()> add_export_commands(CLI::App& app);

}  // namespace fedlora::lora::cli
