#pragma once
// Crash points for the crash-safety tests: when the environment variable FEDLORA_FAILPOINT
// names a point, the process kills itself with SIGKILL there, exactly as a power cut or the
// OOM killer would. Unset (always, outside tests), a failpoint does nothing.
namespace fedlora::protocol {

/// Coordinator points: "round_opened", "stage_closed", "checkpoint_written" (files fsync'ed,
/// round not committed), "round_committed" (store committed, metrics.jsonl not rewritten).
/// Device points: "device_secagg_share_keys" (after sending its ShareKeys response).
void failpoint(const char* name);

}  // namespace fedlora::protocol
