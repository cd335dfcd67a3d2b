#pragma once
#include "tests/support/temp_dir.h"

namespace fedlora::client::test {
using fedlora::test::TempDir;
}  // namespace fedlora::client::test
