// Result<T>: a value or an Error. Every fallible function returns one.
#pragma once

#include <cassert>
#include <utility>
#include <variant>

#include "base/error.h"

namespace hallmark::base {

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : m_v(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : m_v(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return m_v.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(m_v);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(m_v);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(m_v));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const {
    assert(!ok());
    return std::get<1>(m_v);
  }
  Error&& take_error() {
    assert(!ok());
    return std::get<1>(std::move(m_v));
  }

 private:
  std::variant<T, Error> m_v;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : m_error(std::move(error)), m_ok(false) {}  // NOLINT

  bool ok() const { return m_ok; }
  explicit operator bool() const { return m_ok; }
  const Error& error() const {
    assert(!m_ok);
    return m_error;
  }
  Error&& take_error() {
    assert(!m_ok);
    return std::move(m_error);
  }

 private:
  Error m_error;
  bool m_ok = true;
};

using Status = Result<void>;

inline Status ok_status() {
  return {};
}

}  // namespace hallmark::base

// Propagates an error: HM_TRY(auto x, f()); declares x from the value of f().
#define HM_CONCAT_INNER(a, b) a##b
#define HM_CONCAT(a, b) HM_CONCAT_INNER(a, b)
#define HM_TRY_IMPL(tmp, decl, expr)      \
  auto tmp = (expr);                      \
  if (!tmp.ok()) return tmp.take_error(); \
  decl = std::move(tmp).value()
#define HM_TRY(decl, expr) HM_TRY_IMPL(HM_CONCAT(hm_try_, __LINE__), decl, expr)
// Propagates the error of a Status.
#define HM_CHECK(expr)                                    \
  do {                                                    \
    auto hm_status_ = (expr);                             \
    if (!hm_status_.ok()) return hm_status_.take_error(); \
  } while (0)
