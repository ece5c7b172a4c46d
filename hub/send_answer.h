#pragma once

// The two ways HubService's handlers answer: a W3C error (status from its code unless given)
// or a JSON body. One definition for the files of the service (hub_service.cc, hub_cluster.cc).

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "http/http_server.h"
#include "http/w3c_error.h"

namespace gridhub::hub {

inline void SendError(http::Responder& responder, const Error& error, int status = 0,
                      const http::Headers& headers = {}) {
  responder.Send(status != 0 ? status : http::HttpStatus(error.code), http::W3CErrorBody(error),
                 headers);
}

inline void SendJson(http::Responder& responder, int status, const nlohmann::json& body) {
  responder.Send(status, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

}  // namespace gridhub::hub
