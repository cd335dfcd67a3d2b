#pragma once
// fedlora-model eval / suggest / generate: the keyboard and assistant uses of a base + adapter.
#include <CLI/CLI.hpp>
#include <functional>

namespace fedlora::lora::cli {

/// Registers `eval`, `suggest` and `generate` on `app`; the returned runner runs whichever was
/// chosen and returns its exit code, or -1 when none was.
std::function<int()> add_keyboard_commands(CLI::App& app);

}  // namespace fedlora::lora::cli
