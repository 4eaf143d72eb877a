// EST's error mapping (DESIGN: one file per protocol): base::ErrorCode -> HTTP
// status with a text/plain body a person can act on (RFC 8951 allows text/plain).
#pragma once

#include "base/error.h"
#include "http/message.h"

namespace hallmark::proto::est {

int status_for(base::ErrorCode code);
// The client sees `detail` only; the internal cause is logged.
http::Response error_response(const base::Error& error);

}  // namespace hallmark::proto::est
