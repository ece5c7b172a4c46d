#include "common/ip_address.h"

#include <gtest/gtest.h>

namespace gridhub {
namespace {

TEST(IpAddressTest, ParsesDottedQuadsAndIpv6ByValue) {
  EXPECT_EQ(ParseIp("10.0.0.1"), ParseIp("::ffff:10.0.0.1"));
  EXPECT_EQ(ParseIp("[::1]"), ParseIp("0:0:0:0:0:0:0:1"));
  for (const char* bad : {"", "127.1", "010.0.0.1", "0x7f.0.0.1", "1.2.3.4.5", "256.0.0.1",
                          "fe80::1%eth0", "hub.example", "[10.0.0.1", "1.2.3.4 "}) {
    EXPECT_EQ(ParseIp(bad), std::nullopt) << bad;
  }
}

TEST(IpAddressTest, KnowsLoopbackAndUnspecified) {
  EXPECT_TRUE(IsLoopbackAddress("127.9.8.7"));
  EXPECT_TRUE(IsLoopbackAddress("[::1]"));
  EXPECT_TRUE(IsLoopbackAddress("::ffff:127.0.0.1"));
  EXPECT_FALSE(IsLoopbackAddress("::2"));
  EXPECT_FALSE(IsLoopbackAddress("localhost"));
  EXPECT_TRUE(IsUnspecified(*ParseIp("0.1.2.3")));
  EXPECT_TRUE(IsUnspecified(*ParseIp("::")));
  EXPECT_FALSE(IsUnspecified(*ParseIp("::1")));
}

TEST(IpAddressTest, CanonicalAddressHasOneSpelling) {
  EXPECT_EQ(CanonicalAddress("::ffff:10.0.0.1"), "10.0.0.1");
  EXPECT_EQ(CanonicalAddress("[10.0.0.1]"), "10.0.0.1");
  EXPECT_EQ(CanonicalAddress("FE80::0001"), "fe80::1");
  EXPECT_EQ(CanonicalAddress("[0:0::1]"), "::1");
  EXPECT_EQ(CanonicalAddress("10.0.0.256"), std::nullopt);
  EXPECT_EQ(CanonicalAddress(std::string(100, '1')), std::nullopt);
}

}  // namespace
}  // namespace gridhub
