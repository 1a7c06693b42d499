// docs/state-machine.md lists exactly the steps the supervisor may take.

#include "daemon/state_table.h"

#include <catch2/catch.hpp>

#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <tuple>

using namespace hgw::daemon;

namespace {

using Triple = std::tuple<std::string, std::string, std::string>;

std::string trim(const std::string& s)
{
    auto b = s.find_first_not_of(' ');
    auto e = s.find_last_not_of(' ');
    return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// The rows of the "| from | event | to |" table.
std::set<Triple> documented_steps()
{
    std::ifstream in(std::string(HGW_SOURCE_DIR) + "/docs/state-machine.md");
    REQUIRE(in);
    std::set<Triple> out;
    bool in_table = false;
    std::string line;
    while (std::getline(in, line)) {
        if (line == "| from | event | to |") {
            in_table = true;
            continue;
        }
        if (!in_table)
            continue;
        if (line.rfind("|---", 0) == 0)
            continue;
        if (line.empty() || line[0] != '|')
            break;
        std::vector<std::string> cells;
        std::stringstream ss(line.substr(1));
        std::string cell;
        while (std::getline(ss, cell, '|'))
            cells.push_back(trim(cell));
        REQUIRE(cells.size() == 3);
        out.emplace(cells[0], cells[1], cells[2]);
    }
    return out;
}

} // namespace

TEST_CASE("the documented state table is the code's")
{
    std::set<Triple> code;
    for (const Step& s : state_table())
        code.emplace(std::string(to_string(s.from)), std::string(to_string(s.event)), std::string(to_string(s.to)));
    std::set<Triple> doc = documented_steps();
    CHECK(doc.size() > 40);
    for (const auto& t : code) {
        INFO("missing from the doc: " << std::get<0>(t) << " --" << std::get<1>(t) << "--> " << std::get<2>(t));
        CHECK(doc.count(t) == 1);
    }
    for (const auto& t : doc) {
        INFO("in the doc, not in the code: " << std::get<0>(t) << " --" << std::get<1>(t) << "--> " << std::get<2>(t));
        CHECK(code.count(t) == 1);
    }
}

TEST_CASE("every phase is reachable and every phase but stopped can be left")
{
    for (Phase p : {Phase::Recovering, Phase::Starting, Phase::Running, Phase::Draining, Phase::Stopping,
                    Phase::Killing, Phase::AutoRestart, Phase::Waiting, Phase::Foreign, Phase::Failed}) {
        bool in = false, out = false;
        for (const Step& s : state_table()) {
            in = in || (s.to == p && s.from != p);
            out = out || (s.from == p && s.to != p);
        }
        INFO(std::string(to_string(p)));
        CHECK(in);
        CHECK(out);
    }
}
