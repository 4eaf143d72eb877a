// hallmark: the command line.
#include <CLI/CLI.hpp>

#include <iostream>

#include "app/cli.h"
#include "base/log.h"

int main(int argc, char** argv) {
  using namespace hallmark::app;
  CLI::App app{"Hallmark: device-identity PKI (IDevIDs in the factory, LDevIDs at runtime).", "hallmark"};
  app.footer(kExitCodesHelp);
  app.require_subcommand(1);
  app.set_version_flag("--version", "hallmark 0.1.0");
  bool verbose = false;
  app.add_flag("-v,--verbose", verbose, "Log details (causes of errors) to stderr");
  app.parse_complete_callback([&] {
    if (verbose) hallmark::base::log::set_level(hallmark::base::log::Level::Debug);
  });

  int exit_code = kExitOk;
  CommandRegistry reg{app, exit_code};
  add_init_commands(reg);
  add_ca_commands(reg);
  add_ceremony_command(reg);
  add_issue_commands(reg);
  add_lint_command(reg);
  add_audit_commands(reg);
  add_demo_command(reg);
  add_site_commands(reg);
  add_station_commands(reg);
  add_ledger_commands(reg);
  add_serve_command(reg);
  add_est_commands(reg);
  add_revoke_commands(reg);  // after add_site_commands: adds `site revoke`
  add_device_commands(reg);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsage;
  }
  return exit_code;
}
