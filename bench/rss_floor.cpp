// The idle memory floor of any D-Bus service built on this project's
// libraries: an sdbus-c++ 1.2 object with one method on a bus, spdlog
// linked and used once, then idle in sdbus-c++'s event loop. Whatever
// hermes-gatewayd does beyond this costs memory above the floor; the floor
// itself is the shared libraries' pages that a process touches (libc,
// libstdc++, libsystemd and its compression and crypto libraries, sdbus-c++,
// spdlog), mapped in 16-page chunks by the kernel's fault-around.
//
// Usage: rss-floor ADDRESS   (a bus address; prints its pid, then idles
// until killed). bench/peers reads its VmRSS beside the daemon's.

#include <sdbus-c++/sdbus-c++.h>
#include <spdlog/spdlog.h>

#include <unistd.h>

#include <cstdio>

int main(int argc, char** argv)
{
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s BUS-ADDRESS\n", argv[0]);
        return 2;
    }
    auto bus = sdbus::createSessionBusConnectionWithAddress(argv[1]);
    auto object = sdbus::createObject(*bus, "/floor");
    object->registerMethod("Answer").onInterface("org.example.Floor").implementedAs([] { return 42u; });
    object->finishRegistration();
    spdlog::info("rss-floor: pid {} idle", ::getpid());
    bus->enterEventLoop();
}
