#include "coordinator/protocol/failpoint.h"

#include <signal.h>

#include <cstdlib>
#include <cstring>

namespace fedlora::protocol {

void failpoint(const char* name) {
  static const char* armed = std::getenv("FEDLORA_FAILPOINT");
  if (armed != nullptr && std::strcmp(armed, name) == 0) ::raise(SIGKILL);
}

}  // namespace fedlora::protocol
