#include "base/rng.h"

#include <openssl/rand.h>

#include <cstdlib>

namespace hallmark::base {

Bytes SystemRng::bytes(std::size_t n) {
  Bytes out(n);
  if (n > 0 && RAND_bytes(out.data(), static_cast<int>(n)) != 1) {
    // Without randomness no key, serial or nonce is safe: stop rather than go on.
    std::abort();
  }
  return out;
}

}  // namespace hallmark::base
