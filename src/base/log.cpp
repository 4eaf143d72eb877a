#include "base/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace hallmark::base::log {
namespace {

spdlog::logger& logger() {
  static auto instance = [] {
    auto l = spdlog::stderr_color_mt("hallmark");
    l->set_pattern("%^%l%$: %v");
    l->set_level(spdlog::level::warn);
    return l;
  }();
  return *instance;
}

}  // namespace

void set_level(Level level) {
  switch (level) {
    case Level::Debug:
      logger().set_level(spdlog::level::debug);
      break;
    case Level::Info:
      logger().set_level(spdlog::level::info);
      break;
    case Level::Warn:
      logger().set_level(spdlog::level::warn);
      break;
    case Level::Error:
      logger().set_level(spdlog::level::err);
      break;
    case Level::Off:
      logger().set_level(spdlog::level::off);
      break;
  }
}
void debug(std::string_view m) {
  logger().debug("{}", m);
}
void info(std::string_view m) {
  logger().info("{}", m);
}
void warn(std::string_view m) {
  logger().warn("{}", m);
}
void error(std::string_view m) {
  logger().error("{}", m);
}

}  // namespace hallmark::base::log
