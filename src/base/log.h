// Logging facade: modules log through these functions, never through spdlog
// directly, so that the sink (stderr, file, JSON) is chosen in one place (app).
#pragma once

#include <string_view>

namespace hallmark::base::log {

enum class Level { Debug, Info, Warn, Error, Off };

void set_level(Level level);
void debug(std::string_view message);
void info(std::string_view message);
void warn(std::string_view message);
void error(std::string_view message);

}  // namespace hallmark::base::log
