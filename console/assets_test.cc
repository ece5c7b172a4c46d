#include "console/assets.h"

#include <gtest/gtest.h>

namespace gridhub::console {
namespace {

TEST(AssetsTest, EmbedsTheIndexPageAsHtml) {
  const Asset* index = FindAsset("index.html");
  ASSERT_NE(index, nullptr);
  EXPECT_EQ(index->content_type, "text/html; charset=utf-8");
  EXPECT_NE(index->bytes.find("<html"), std::string_view::npos);
}

TEST(AssetsTest, EveryListedAssetIsFoundByItsPath) {
  ASSERT_FALSE(AllAssets().empty());
  for (const Asset& asset : AllAssets()) {
    const Asset* found = FindAsset(asset.path);
    ASSERT_NE(found, nullptr) << asset.path;
    EXPECT_EQ(found->bytes.data(), asset.bytes.data());
  }
}

TEST(AssetsTest, PathsThatCouldEscapeOrAreUnknownFindNothing) {
  for (std::string_view path : {"", "/index.html", "./index.html", "../index.html", "a//b",
                                "index.html/", "..\\index.html", "nope.js", "INDEX.HTML"}) {
    EXPECT_EQ(FindAsset(path), nullptr) << path;
  }
}

TEST(AssetsTest, ContentTypesFollowTheExtension) {
  EXPECT_EQ(ContentTypeFor("console.js"), "text/javascript; charset=utf-8");
  EXPECT_EQ(ContentTypeFor("console.css"), "text/css; charset=utf-8");
  EXPECT_EQ(ContentTypeFor("img/logo.svg"), "image/svg+xml");
  EXPECT_EQ(ContentTypeFor("shot.png"), "image/png");
  EXPECT_EQ(ContentTypeFor("data.bin"), "application/octet-stream");
  EXPECT_EQ(ContentTypeFor(".js"), "application/octet-stream");
}

}  // namespace
}  // namespace gridhub::console
