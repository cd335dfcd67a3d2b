#pragma once
#include "tests/support/temp_dir.h"

namespace fedlora::lora::test {
using fedlora::test::TempDir;
}  // namespace fedlora::lora::test
