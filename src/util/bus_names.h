#pragma once
/*
 * The names of hermes-gatewayd's D-Bus interface, spelled once for the
 * daemon (src/dbus, src/daemon, src/core), the client (src/cli), the tests
 * and the benchmarks. dbus/org.hermes.Gateway1.xml defines the interface;
 * tests/unit/bus_names_test.cpp checks these names against it.
 *
 * String macros, as sd-bus names its errors (SD_BUS_ERROR_ACCESS_DENIED...):
 * C includes this header too (bench/client_driver.c, bench/peers.d/probe.c),
 * and literals concatenate, so HGW_BUS_NAME ".work" is the bus name of the
 * profile "work" (the mapping of profile names is src/core/profile.h's).
 * Python and shell scripts read it through tests/support/bus_names.py, which
 * accepts only string literals and earlier HGW_ macros as values.
 * Standard names (org.freedesktop.DBus.*) are not ours and are not here.
 */

/* The default Hermes home's daemon owns this name; a profile's daemon owns
   HGW_BUS_NAME "." <element>. */
#define HGW_BUS_NAME "org.hermes.Gateway1"
#define HGW_BUS_PATH "/org/hermes/Gateway1"
#define HGW_BUS_INTERFACE HGW_BUS_NAME ".Manager"

/* Methods */
#define HGW_BUS_METHOD_GET_STATUS "GetStatus"
#define HGW_BUS_METHOD_REPLACE "Replace"
#define HGW_BUS_METHOD_RESTART "Restart"
#define HGW_BUS_METHOD_START "Start"
#define HGW_BUS_METHOD_STOP "Stop"
#define HGW_BUS_METHOD_VALIDATE_PID_FILE "ValidatePidFile"
#define HGW_BUS_METHOD_CLEAN_PID_FILE "CleanPidFile"
#define HGW_BUS_METHOD_FLEET_HANDOVER "FleetHandover"

/* Option keys of the methods' a{sv}: FleetHandover's "to", the host to
   lead next. */
#define HGW_BUS_OPTION_HANDOVER_TO "to"

/* Signals */
#define HGW_BUS_SIGNAL_STATE_CHANGED "StateChanged"
#define HGW_BUS_SIGNAL_REPLACED "Replaced"
#define HGW_BUS_SIGNAL_GATEWAY_EXITED "GatewayExited"
#define HGW_BUS_SIGNAL_PID_FILE_REPAIRED "PidFileRepaired"
#define HGW_BUS_SIGNAL_FLEET_ROLE_CHANGED "FleetRoleChanged"

/* Properties */
#define HGW_BUS_PROPERTY_STATE "State"
#define HGW_BUS_PROPERTY_PHASE "Phase"
#define HGW_BUS_PROPERTY_JOB "Job"
#define HGW_BUS_PROPERTY_GATEWAY_PID "GatewayPID"
#define HGW_BUS_PROPERTY_GENERATION "Generation"
#define HGW_BUS_PROPERTY_STARTED_AT "StartedAt"
#define HGW_BUS_PROPERTY_READY "Ready"
#define HGW_BUS_PROPERTY_RESTARTS "Restarts"
#define HGW_BUS_PROPERTY_LAST_EXIT "LastExit"
#define HGW_BUS_PROPERTY_PID_FILE "PidFile"
#define HGW_BUS_PROPERTY_COMMAND "Command"
#define HGW_BUS_PROPERTY_FLEET_ROLE "FleetRole"
#define HGW_BUS_PROPERTY_FLEET_LEADER "FleetLeader"
#define HGW_BUS_PROPERTY_FLEET_DEADLINE "FleetDeadline"

/* Errors: HGW_BUS_ERROR_PREFIX <Name> */
#define HGW_BUS_ERROR_PREFIX HGW_BUS_NAME ".Error."
#define HGW_BUS_ERROR_ACCESS_DENIED HGW_BUS_ERROR_PREFIX "AccessDenied"
#define HGW_BUS_ERROR_BUSY HGW_BUS_ERROR_PREFIX "Busy"
#define HGW_BUS_ERROR_TIMEOUT HGW_BUS_ERROR_PREFIX "Timeout"
#define HGW_BUS_ERROR_NOT_RUNNING HGW_BUS_ERROR_PREFIX "NotRunning"
#define HGW_BUS_ERROR_GENERATION_MISMATCH HGW_BUS_ERROR_PREFIX "GenerationMismatch"
#define HGW_BUS_ERROR_INVALID_ARGS HGW_BUS_ERROR_PREFIX "InvalidArgs"
#define HGW_BUS_ERROR_START_FAILED HGW_BUS_ERROR_PREFIX "StartFailed"
/* Replace/Restart refused: a new gateway provably cannot start, so the
   running one was left alone. */
#define HGW_BUS_ERROR_CANNOT_START HGW_BUS_ERROR_PREFIX "CannotStart"
#define HGW_BUS_ERROR_FAILED HGW_BUS_ERROR_PREFIX "Failed"

/* polkit actions, defined by polkit/org.hermes.gateway1.policy: the
   daemon asks polkit about them on a bus where polkit runs (the system
   bus). MANAGE covers Replace, Restart, Start and Stop. */
#define HGW_POLKIT_ACTION_PREFIX "org.hermes.gateway1."
#define HGW_POLKIT_ACTION_MANAGE HGW_POLKIT_ACTION_PREFIX "manage"
#define HGW_POLKIT_ACTION_CLEAN_PID_FILE HGW_POLKIT_ACTION_PREFIX "clean-pidfile"
