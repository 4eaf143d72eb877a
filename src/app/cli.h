// Shared pieces of the command line: exit codes, error reporting, output.
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <string>

#include "base/error.h"

namespace hallmark::app {

// Exit codes (documented in `hallmark --help` and the README).
enum ExitCode : int {
  kExitOk = 0,
  kExitFindings = 1,  // lint findings, audit verification failed
  kExitUsage = 2,     // bad command line
  kExitRefused = 3,   // input refused: bad CSR, policy, already exists
  kExitNotFound = 4,  // no such folder, issuer, certificate
  kExitFailure = 5,   // internal error, I/O, unavailable store
};

inline constexpr char kExitCodesHelp[] =
    "Exit codes: 0 ok; 1 findings (lint, audit verify); 2 usage; 3 input refused (bad CSR, policy, "
    "already exists); 4 not found; 5 internal or I/O failure.";

int exit_code_for(const base::Error& e);
// Prints "error: <detail>" (and the cause at debug level) to stderr; returns the exit code.
int report(const base::Error& e);
// Prints one JSON document on stdout.
void print_json(const nlohmann::json& doc);

struct CommandRegistry {
  CLI::App& app;
  int& exit_code;
};

void add_init_commands(CommandRegistry reg);
void add_ca_commands(CommandRegistry reg);
void add_ceremony_command(CommandRegistry reg);  // offline root key ceremony: commands_ca.cpp
void add_issue_commands(CommandRegistry reg);
void add_lint_command(CommandRegistry reg);
void add_audit_commands(CommandRegistry reg);
void add_demo_command(CommandRegistry reg);
void add_site_commands(CommandRegistry reg);                        // factory: commands_site.cpp
void add_station_commands(CommandRegistry reg);                     // factory: commands_station.cpp
void add_station_serve_command(CLI::App& station, int& exit_code);  // commands_station_serve.cpp
void add_station_challenge_command(CLI::App& st, int& exit_code);   // commands_station_challenge.cpp
void add_station_tpm_activate_command(CLI::App& s, int& rc);        // commands_station_challenge.cpp
void add_ledger_commands(CommandRegistry reg);                      // factory: commands_ledger.cpp
void add_serve_command(CommandRegistry reg);                        // runtime: commands_serve.cpp
void add_est_commands(CommandRegistry reg);                         // runtime: commands_est.cpp
void add_device_commands(CommandRegistry reg);                      // device emulation: commands_device.cpp
void add_revoke_commands(CommandRegistry reg);                      // revocation: commands_revoke.cpp
void add_device_se_commands(CLI::App& device, int& exit_code);      // software SE: commands_device_se.cpp
void add_device_tpm_commands(CLI::App& device, int& exit_code);     // TPM device: commands_device_tpm.cpp

}  // namespace hallmark::app
