// Byte sizes on the command line ("64MB", "1GiB", "4096"), shared by the commands that shard.
#pragma once

#include <cstdint>
#include <string>

namespace slim::cli {

// `flag` names the option in error messages ("--shard_size").
uint64_t parse_size(const std::string& text, const std::string& flag);

}  // namespace slim::cli
