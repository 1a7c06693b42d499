#pragma once
// hermes-gatewayctl's exit codes, shared by the front end (usage errors,
// help) and the D-Bus module (the bus commands' outcomes).

namespace hgw::cli::exit_codes {

inline constexpr int kOk = 0;
inline constexpr int kFailed = 1;           // any other failure; status: gateway failed; wait-ready: timed out
inline constexpr int kInvalidArgs = 2;      // bad command line, or InvalidArgs from the daemon
inline constexpr int kNotRunning = 3;       // status: not running and ready; NotRunning from the daemon
inline constexpr int kNoDaemon = 4;         // hermes-gatewayd not reachable on the bus
inline constexpr int kAccessDenied = 5;
inline constexpr int kBusy = 6;
inline constexpr int kTimeout = 7;          // the daemon's Timeout, or no reply in time
inline constexpr int kGenerationMismatch = 8;
inline constexpr int kStartFailed = 9;
inline constexpr int kCannotStart = 10;    // replace/restart refused: a new gateway cannot start; the old one runs on

} // namespace hgw::cli::exit_codes
