// gateway.lock on overlayfs, as in a container whose Hermes home lies on the
// image's overlay: fstat() of the lock file may name the layer's device
// while /proc/locks names the overlay's. The lock must still be seen held,
// or a live gateway whose record has no start time would be judged stale.

#include "support/child_process.h"
#include "support/temp_home.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <map>
#include <sstream>

using namespace hgw::test;
using nlohmann::json;

namespace {

// "KEY value" lines of the driver's output.
std::map<std::string, std::string> driver_lines(const std::string& output)
{
    std::map<std::string, std::string> lines;
    std::istringstream in(output);
    std::string line;
    while (std::getline(in, line)) {
        auto space = line.find(' ');
        if (space != std::string::npos)
            lines[line.substr(0, space)] = line.substr(space + 1);
    }
    return lines;
}

} // namespace

TEST_CASE("overlayfs: a gateway holding gateway.lock is live even with a legacy record", "[lock][overlay][root]")
{
    if (::geteuid() != 0) {
        WARN("SKIPPED (needs root): unshare --mount and mount -t overlay; "
             "run the suite as root to cover it");
        return;
    }
    TempHome dir;
    RunResult r = run({"/usr/bin/unshare", "--mount", "--propagation", "private",
                       source_path("tests/scripts/overlay_lock_driver.sh"), dir.dir().string(), HGW_CTL_PATH,
                       source_path("tests/stub/hermes")},
                      {}, 2 * kTimeout);
    INFO("driver output:\n" << r.output);
    REQUIRE(r.exit_code == 0);
    auto out = driver_lines(r.output);
    REQUIRE(out["FSTYPE"] == "overlayfs");
    const std::string gw = out["GATEWAY"];
    // Whether this kernel shows the mismatch (it does without xino):
    // FILE_DEV is fstat's major:minor:inode, LOCKS the /proc/locks line.

    // The record is the bare PID; only the lock proves the identity.
    json check = json::parse(dir.read("check.json"));
    INFO("check.json: " << check.dump(1));
    CHECK(out["CHECK_EXIT"] == "0");
    CHECK(check["verdict"] == "live");
    CHECK(check["record"]["start_time"].is_null());
    CHECK(check["lock"]["held"] == true);
    CHECK(check["lock"]["holders"] == json::array({std::stoi(gw)}));

    // clean refuses a live gateway and leaves its record alone.
    CHECK(out["CLEAN_EXIT"] == "1");
    CHECK(out["RECORD_AFTER"] == gw);
}
