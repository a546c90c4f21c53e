// Wires the agent to the outside world: Boost.Asio event loop and timers, the card source,
// libmodbus relay/meter, the MQTT client and signals. Boost stays in runner.cpp.
#pragma once

#include "labgate/common/board.hpp"
#include "labgate/common/crypto.hpp"

#include "terminal_config.hpp"

namespace lg::terminal {

/// Runs the terminal until SIGINT/SIGTERM. Returns the process exit status (0 on a clean stop,
/// 1 on a fatal runtime error such as an unusable database or card source).
int run(const TerminalConfig& cfg, const board::Board& board, crypto::PrivateKey key,
        crypto::PublicKey server_key);

}  // namespace lg::terminal
