// Rng: the only source of randomness (tests may substitute a deterministic one).
#pragma once

#include <cstddef>

#include "base/bytes.h"

namespace hallmark::base {

class Rng {
 public:
  virtual ~Rng() = default;
  virtual Bytes bytes(std::size_t n) = 0;
};

// OpenSSL's CSPRNG; thread-safe.
class SystemRng final : public Rng {
 public:
  Bytes bytes(std::size_t n) override;
};

}  // namespace hallmark::base
