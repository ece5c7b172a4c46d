#pragma once

// Where the node agent's tests find their fake W3C driver (testdata/fake_driver.py) and the
// interpreter that runs it: Debian's Python, whatever the PATH offers first.

#include <string>

namespace gridhub::node::test_support {

inline constexpr const char* kPython = "/usr/bin/python3";
inline const std::string kFakeDriver = std::string(GRIDHUB_NODE_TESTDATA) + "/fake_driver.py";

}  // namespace gridhub::node::test_support
