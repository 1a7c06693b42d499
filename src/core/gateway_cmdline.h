#pragma once
// Hermes' own rule for "this command line is a gateway", so that we and
// Hermes agree on which processes count.

#include <string>
#include <vector>

namespace hgw {

// True for `hermes [..] gateway [run|restart]`, `.../gateway/run.py`, or an
// executable named `hermes-gateway`. `--profile X` / `-p X` are skipped.
bool looks_like_gateway(const std::vector<std::string>& argv);

} // namespace hgw
