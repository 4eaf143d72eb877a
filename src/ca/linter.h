// The linter: every TBS is linted before it is signed, and `hallmark lint`
// lints any certificate, ours or foreign. Each rule has a stable ID.
#pragma once

#include <string>
#include <vector>

#include "ca/profile.h"
#include "pkix/certificate.h"

namespace hallmark::ca {

struct LintRule {
  std::string id;           // e.g. "HM-TIME-ENCODING"
  std::string description;  // what the rule demands, with its source
};

struct LintFinding {
  std::string rule;
  std::string message;
};

struct LintContext {
  const Profile* profile = nullptr;           // profile rules apply only when given
  const pkix::Certificate* issuer = nullptr;  // validity nesting applies only when given
};

const std::vector<LintRule>& lint_rules();
std::vector<LintFinding> lint(const pkix::Certificate& cert, const LintContext& context);

}  // namespace hallmark::ca
