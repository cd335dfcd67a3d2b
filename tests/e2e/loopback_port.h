#pragma once
// A free TCP port for e2e tests that start servers on loopback.

namespace fedlora::test {

/// A free TCP port on 127.0.0.1: bound to port 0, read back, released (another process may
/// take it in between; the tests tolerate that rarely).
int free_port();

}  // namespace fedlora::test
