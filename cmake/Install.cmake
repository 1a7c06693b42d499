# What turns the two binaries into a service: systemd units, the D-Bus
# policy and activation file, the polkit actions and rules, the default
# configuration, the update hook, man pages and the bash, zsh and fish
# completions. The binaries' own install() rules are in
# src/CMakeLists.txt.
#
# Every destination can be overridden on the cmake command line (a relative
# one is taken relative to the prefix), e.g.
# -DHGW_SYSTEMD_SYSTEM_UNIT_DIR=/usr/local/lib/systemd/system for an install
# that must stay under its prefix.

include(GNUInstallDirs)
find_package(PkgConfig REQUIRED)

# systemd's own directories, from systemd.pc (package `systemd` on Debian 12;
# there is no systemd-dev there). Without it: the usual places.
pkg_get_variable(HGW_PC_SYSTEM_UNIT_DIR systemd systemdsystemunitdir)
pkg_get_variable(HGW_PC_USER_UNIT_DIR systemd systemduserunitdir)
if(NOT HGW_PC_SYSTEM_UNIT_DIR)
  set(HGW_PC_SYSTEM_UNIT_DIR lib/systemd/system)
endif()
if(NOT HGW_PC_USER_UNIT_DIR)
  # Not CMAKE_INSTALL_LIBDIR, which may be lib/<multiarch>: systemd looks in lib/.
  set(HGW_PC_USER_UNIT_DIR lib/systemd/user)
endif()
set(HGW_SYSTEMD_SYSTEM_UNIT_DIR "${HGW_PC_SYSTEM_UNIT_DIR}" CACHE STRING "Where system units go")
set(HGW_SYSTEMD_USER_UNIT_DIR "${HGW_PC_USER_UNIT_DIR}" CACHE STRING "Where user units go")
set(HGW_DBUS_SYSTEM_POLICY_DIR "${CMAKE_INSTALL_DATADIR}/dbus-1/system.d" CACHE STRING
    "Where the system bus policy goes")
set(HGW_DBUS_SYSTEM_SERVICES_DIR "${CMAKE_INSTALL_DATADIR}/dbus-1/system-services" CACHE STRING
    "Where the system bus activation file goes")
set(HGW_POLKIT_ACTIONS_DIR "${CMAKE_INSTALL_DATADIR}/polkit-1/actions" CACHE STRING
    "Where the polkit actions go")
set(HGW_POLKIT_RULES_DIR "${CMAKE_INSTALL_DATADIR}/polkit-1/rules.d" CACHE STRING
    "Where the polkit rules go")
set(HGW_BASH_COMPLETION_DIR "${CMAKE_INSTALL_DATADIR}/bash-completion/completions" CACHE STRING
    "Where bash completions go")
# Debian's places for completions that come with a package, not with the shell.
set(HGW_ZSH_COMPLETION_DIR "${CMAKE_INSTALL_DATADIR}/zsh/vendor-completions" CACHE STRING
    "Where zsh completions go")
set(HGW_FISH_COMPLETION_DIR "${CMAKE_INSTALL_DATADIR}/fish/vendor_completions.d" CACHE STRING
    "Where fish completions go")
# /etc/hermes whatever the prefix: it is where the daemon looks by default
# (as root), and where the system units point it.
set(HGW_CONFIG_DIR "/etc/hermes" CACHE STRING "Where gatewayd.conf goes")
set(HGW_LIBEXEC_DIR "${CMAKE_INSTALL_LIBEXECDIR}/hermes-gateway" CACHE STRING "Where the update hook goes")

# The files in units/, packaging/ and docs/man/ name the paths of a /usr
# install, so that they can be read and checked (systemd-analyze verify)
# as they are. For another layout they are rewritten into the build tree,
# at configure time: give the prefix then (-DCMAKE_INSTALL_PREFIX=/usr),
# not only to `cmake --install --prefix`.
get_filename_component(_hgw_libexec_full "${HGW_LIBEXEC_DIR}" ABSOLUTE BASE_DIR "${CMAKE_INSTALL_PREFIX}")
set(_hgw_rewrites
  "/usr/sbin/hermes-gatewayd" "${CMAKE_INSTALL_FULL_SBINDIR}/hermes-gatewayd"
  "/usr/bin/hermes-gatewayctl" "${CMAKE_INSTALL_FULL_BINDIR}/hermes-gatewayctl"
  "/usr/libexec/hermes-gateway" "${_hgw_libexec_full}"
  "/etc/hermes/gatewayd.conf" "${HGW_CONFIG_DIR}/gatewayd.conf")
# Man pages also name the daemon's built-in default /etc/hermes/gatewayd.conf,
# which no install changes: only the hook's path is rewritten there.
set(_hgw_man_rewrites "/usr/libexec/hermes-gateway" "${_hgw_libexec_full}")
set(_hgw_generated ${CMAKE_CURRENT_BINARY_DIR}/hgw-install)

# Copies SOURCE (relative to the source tree) to the build tree with the
# paths above rewritten, and sets OUT to the copy. For man pages, '-' in the
# paths is written as roff's '\-'.
function(hgw_rewrite_paths source out)
  file(READ ${PROJECT_SOURCE_DIR}/${source} text)
  set(pairs ${_hgw_rewrites})
  if(source MATCHES "^docs/man/")
    set(pairs ${_hgw_man_rewrites})
  endif()
  while(pairs)
    list(POP_FRONT pairs from to)
    if(source MATCHES "^docs/man/")
      string(REPLACE "-" "\\-" from "${from}")
      string(REPLACE "-" "\\-" to "${to}")
    endif()
    string(REPLACE "${from}" "${to}" text "${text}")
  endwhile()
  # Written only when it changed, so that a re-configure does not touch it.
  # (Not file(CONFIGURE): it would expand @...@ in unit names like hermes-gateway@.service.)
  set(dest ${_hgw_generated}/${source})
  set(old "")
  if(EXISTS ${dest})
    file(READ ${dest} old)
  endif()
  if(NOT old STREQUAL text)
    file(WRITE ${dest} "${text}")
  endif()
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/${source})
  set(${out} ${dest} PARENT_SCOPE)
endfunction()

# ---- systemd units
foreach(unit
    hermes-gateway.service
    hermes-gateway@.service
    hermes-gateway-update.path
    hermes-gateway-update.service)
  hgw_rewrite_paths(units/${unit} file)
  install(FILES ${file} DESTINATION ${HGW_SYSTEMD_SYSTEM_UNIT_DIR})
endforeach()
foreach(unit hermes-gateway.service hermes-gateway@.service hermes-gateway-update.path
    hermes-gateway-update.service)
  hgw_rewrite_paths(units/user/${unit} file)
  install(FILES ${file} DESTINATION ${HGW_SYSTEMD_USER_UNIT_DIR})
endforeach()

# ---- the update hook, run by hermes-gateway-update.service
hgw_rewrite_paths(packaging/hermes-gateway-update file)
install(PROGRAMS ${file} DESTINATION ${HGW_LIBEXEC_DIR})

# ---- D-Bus
install(FILES dbus/org.hermes.Gateway1.conf DESTINATION ${HGW_DBUS_SYSTEM_POLICY_DIR})
install(FILES dbus/org.hermes.Gateway1.service DESTINATION ${HGW_DBUS_SYSTEM_SERVICES_DIR})

# ---- polkit: the actions the daemon asks about, and the rule that lets the
# allowed group in (used only where polkitd is installed)
install(FILES polkit/org.hermes.gateway1.policy DESTINATION ${HGW_POLKIT_ACTIONS_DIR})
install(FILES polkit/hermes-gatewayd.rules DESTINATION ${HGW_POLKIT_RULES_DIR})

# ---- configuration: an existing file is an administrator's, never overwritten
# (a package install starts from an empty DESTDIR, so it always gets it).
install(CODE "
  set(_conf \"\$ENV{DESTDIR}${HGW_CONFIG_DIR}/gatewayd.conf\")
  if(EXISTS \"\${_conf}\")
    message(STATUS \"Keeping: \${_conf}\")
  else()
    file(INSTALL DESTINATION \"${HGW_CONFIG_DIR}\" TYPE FILE
         PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
         FILES \"${PROJECT_SOURCE_DIR}/packaging/gatewayd.conf\")
  endif()")

# ---- man pages and completions
hgw_rewrite_paths(docs/man/hermes-gatewayd.8 file)
install(FILES ${file} DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
hgw_rewrite_paths(docs/man/hermes-gatewayctl.1 file)
install(FILES ${file} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES packaging/bash-completion/hermes-gatewayctl DESTINATION ${HGW_BASH_COMPLETION_DIR})
install(FILES packaging/zsh-completion/_hermes-gatewayctl DESTINATION ${HGW_ZSH_COMPLETION_DIR})
install(FILES packaging/fish-completion/hermes-gatewayctl.fish DESTINATION ${HGW_FISH_COMPLETION_DIR})
