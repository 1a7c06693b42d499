// Reading unit files as systemd does, and telling Hermes' gateway unit
// from ours and from others.

#include "cli/units/hermes_unit.h"
#include "cli/units/unit_file.h"
#include "util/errors.h"

#include <catch2/catch.hpp>

using namespace hgw;
using namespace hgw::cli;

namespace {

// What `hermes gateway install` writes today (hermes_cli/gateway.py),
// arguments quoted, '%' and '$' doubled.
constexpr const char* kHermesUserUnit = R"([Unit]
Description=Hermes Agent Gateway - Messaging Platform Integration
After=network-online.target
StartLimitIntervalSec=0

[Service]
Type=simple
ExecStart="/home/a/.hermes/venv/bin/python" "-m" "hermes_cli.main" "--profile" "work" "gateway" "run"
WorkingDirectory=/home/a/.hermes/profiles/work
Environment="PATH=/home/a/.local/bin:/usr/bin:/bin"

Environment="HERMES_HOME=/home/a/.hermes/profiles/work"
Environment="HERMES_SUPERVISED_CHILD=1"
Restart=always
RestartSec=5
ExecReload=/bin/kill -USR1 $MAINPID

[Install]
WantedBy=default.target
)";

} // namespace

TEST_CASE("unit files: sections, keys, comments, continuations and list resets", "[units]")
{
    const UnitFile u = parse_unit_file("# c\n[Service]\n; c\nEnvironment=A=1\nExecStart=/bin/a \\\n  b c\n"
                                       "Environment=\nEnvironment=B=2\n[Install]\nEnvironment=C=3\n");
    CHECK(u.values("Service", "Environment") == std::vector<std::string>{"B=2"});
    CHECK(exec_command(u.last("Service", "ExecStart").value()) == std::vector<std::string>{"/bin/a", "b", "c"});
    CHECK(u.values("Install", "Environment") == std::vector<std::string>{"C=3"});
    CHECK_FALSE(u.last("Unit", "Description"));
}

TEST_CASE("unit words: quotes, escapes, %% and $$ as systemd splits them", "[units]")
{
    CHECK(split_unit_words(R"("a b" 'c "d"' e\ f "g\"h")", true) ==
          std::vector<std::string>{"a b", "c \"d\"", "e f", "g\"h"});
    CHECK(split_unit_words("\"100%%\" $$HOME", true) == std::vector<std::string>{"100%", "$HOME"});
    CHECK(split_unit_words("X=$$", false) == std::vector<std::string>{"X=$$"});
    CHECK_THROWS_AS(split_unit_words("\"open", true), Error);
    CHECK(exec_command("-@/usr/bin/python3 hermes -m hermes_cli.main") ==
          std::vector<std::string>{"/usr/bin/python3", "-m", "hermes_cli.main"});
    for (const std::string w : {"plain", "with space", "q\"uote", "back\\slash", "50%"})
        CHECK(split_unit_words(quote_unit_word(w), false) == std::vector<std::string>{w});
}

TEST_CASE("Hermes' own unit is recognised, with its profile, environment and command", "[units][migrate]")
{
    const GatewayUnit g = read_gateway_unit(parse_unit_file(kHermesUserUnit));
    CHECK(g.kind == UnitKind::Hermes);
    CHECK(g.profile == "work");
    CHECK(g.gateway_command ==
          std::vector<std::string>{"/home/a/.hermes/venv/bin/python", "-m", "hermes_cli.main", "gateway", "run"});
    CHECK(g.env("HERMES_HOME") == "/home/a/.hermes/profiles/work");
    CHECK(g.env("HERMES_SUPERVISED_CHILD") == "1");
    CHECK(g.working_directory == "/home/a/.hermes/profiles/work");
}

TEST_CASE("ours and other units are not taken for Hermes'", "[units][migrate]")
{
    CHECK(read_gateway_unit(parse_unit_file("[Service]\nExecStart=/usr/sbin/hermes-gatewayd --user\n")).kind ==
          UnitKind::Ours);
    CHECK(read_gateway_unit(parse_unit_file("[Service]\nExecStart=/usr/bin/hermes chat\n")).kind == UnitKind::Other);
    CHECK(read_gateway_unit(parse_unit_file("[Service]\nExecStart=/usr/bin/nginx\n")).kind == UnitKind::Other);
    CHECK(read_gateway_unit(parse_unit_file("[Unit]\nDescription=x\n")).kind == UnitKind::Other);
    CHECK(read_gateway_unit(parse_unit_file("[Service]\nExecStart=/opt/hermes/bin/hermes gateway run\n")).kind ==
          UnitKind::Hermes);
}
