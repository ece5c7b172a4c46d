#include "node-agent/peer_access.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

#include "common/ids.h"

namespace gridhub::node {

std::string JoinAddresses(const std::vector<std::string>& addresses) {
  std::string out;
  for (const std::string& a : addresses) out += (out.empty() ? "" : ", ") + a;
  return out.empty() ? "none" : out;
}

std::vector<std::string> ResolveHostAddresses(const std::string& host) {
  std::string name = host;
  if (name.size() >= 2 && name.front() == '[' && name.back() == ']') {
    name = name.substr(1, name.size() - 2);
  }
  std::vector<std::string> found;
  if (std::optional<std::string> literal = CanonicalAddress(name)) {
    found.push_back(*literal);
    return found;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  if (::getaddrinfo(name.c_str(), nullptr, &hints, &list) != 0) return found;
  for (addrinfo* it = list; it != nullptr; it = it->ai_next) {
    char text[INET6_ADDRSTRLEN] = {};
    const void* addr = nullptr;
    if (it->ai_family == AF_INET) {
      addr = &reinterpret_cast<sockaddr_in*>(it->ai_addr)->sin_addr;
    } else if (it->ai_family == AF_INET6) {
      addr = &reinterpret_cast<sockaddr_in6*>(it->ai_addr)->sin6_addr;
    }
    if (addr == nullptr || ::inet_ntop(it->ai_family, addr, text, sizeof(text)) == nullptr) {
      continue;
    }
    std::optional<std::string> canonical = CanonicalAddress(text);
    if (canonical && std::find(found.begin(), found.end(), *canonical) == found.end()) {
      found.push_back(*canonical);
    }
  }
  ::freeaddrinfo(list);
  return found;
}

std::optional<std::string> AccessRefusal(std::string_view secret,
                                         const std::vector<std::string>& hub_addresses,
                                         std::string_view peer, std::string_view presented_secret) {
  if (!secret.empty()) {
    if (ConstantTimeEquals(presented_secret, secret)) return std::nullopt;
    return "missing or wrong X-Registration-Secret: with hub.registration-secret set, this node "
           "agent needs it on every call but GET /status";
  }
  std::optional<std::string> address = CanonicalAddress(peer);
  if (address &&
      (IsLoopbackAddress(*address) ||
       std::find(hub_addresses.begin(), hub_addresses.end(), *address) != hub_addresses.end())) {
    return std::nullopt;
  }
  // The hub's addresses are not told to a stranger; the node's log names them.
  return "without hub.registration-secret this node agent accepts calls only from loopback and "
         "from its hub, not from " +
         (peer.empty() ? std::string("an unknown address") : std::string(peer)) +
         "; set hub.registration-secret on the hub and its nodes to accept other addresses";
}

}  // namespace gridhub::node
