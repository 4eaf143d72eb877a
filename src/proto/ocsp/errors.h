// OCSP's error mapping (DESIGN: one file per protocol): base::ErrorCode ->
// OCSPResponseStatus (RFC 6960 §4.2.1). Error responses are unsigned.
#pragma once

#include "base/error.h"
#include "pkix/ocsp.h"

namespace hallmark::proto::ocsp {

pkix::OcspStatus status_for(base::ErrorCode code);
std::string_view to_string(pkix::OcspStatus status);

}  // namespace hallmark::proto::ocsp
