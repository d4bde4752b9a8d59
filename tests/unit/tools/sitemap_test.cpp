#include <doctest/doctest.h>

#include <zlib.h>

#include <string>

#include "tools/sitemap.h"

using namespace fc::tools;

namespace {
std::string gzip(const std::string &in) {
    z_stream z{};
    REQUIRE(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    std::string out(deflateBound(&z, in.size()) + 32, '\0');
    z.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(in.data()));
    z.avail_in = static_cast<uInt>(in.size());
    z.next_out = reinterpret_cast<Bytef *>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
    out.resize(z.total_out);
    deflateEnd(&z);
    return out;
}

const char *kUrlset = R"(<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <url><loc>https://example.com/</loc><lastmod>2026-01-01</lastmod></url>
  <url>
    <loc>
      https://example.com/a?x=1&amp;y=2
    </loc>
    <changefreq>daily</changefreq>
  </url>
  <url><loc><![CDATA[https://example.com/b]]></loc></url>
</urlset>)";
} // namespace

TEST_CASE("a urlset gives its page URLs, entities decoded and whitespace trimmed") {
    Sitemap s = parseSitemap(kUrlset);
    CHECK(s.error == "");
    CHECK_FALSE(s.index);
    REQUIRE(s.locs.size() == 3);
    CHECK(s.locs[0] == "https://example.com/");
    CHECK(s.locs[1] == "https://example.com/a?x=1&y=2");
    CHECK(s.locs[2] == "https://example.com/b");
}

TEST_CASE("a sitemap index gives its sitemaps; a prefixed namespace is understood") {
    Sitemap s =
        parseSitemap(R"(<sm:sitemapindex xmlns:sm="http://www.sitemaps.org/schemas/sitemap/0.9">
      <sm:sitemap><sm:loc>http://example.com/s1.xml</sm:loc></sm:sitemap>
      <sm:sitemap><sm:loc>http://example.com/s2.xml.gz</sm:loc></sm:sitemap>
    </sm:sitemapindex>)");
    CHECK(s.error == "");
    CHECK(s.index);
    REQUIRE(s.locs.size() == 2);
    CHECK(s.locs[1] == "http://example.com/s2.xml.gz");
}

TEST_CASE("gzip-compressed sitemaps are inflated") {
    std::string z = gzip(kUrlset);
    CHECK(looksLikeXml(z));
    Sitemap s = parseSitemap(z);
    CHECK(s.error == "");
    CHECK(s.locs.size() == 3);
    Sitemap bad = parseSitemap(z.substr(0, z.size() / 2));
    CHECK(bad.error == "corrupt gzip data");
}

TEST_CASE("a loc outside url or sitemap elements is not a page") {
    Sitemap s = parseSitemap("<urlset><loc>http://x/no</loc><url><loc>http://x/yes</loc>"
                             "<image><loc>http://x/img.png</loc></image></url></urlset>");
    REQUIRE(s.locs.size() == 1);
    CHECK(s.locs[0] == "http://x/yes");
}

TEST_CASE("what is not a sitemap is said so, with no URLs") {
    CHECK(parseSitemap("<html><body>hi</body></html>").error.find("root element is <html>") !=
          std::string::npos);
    Sitemap broken = parseSitemap("<urlset><url><loc>http://x/</loc></url>");
    CHECK(broken.error.find("not well-formed") != std::string::npos);
    CHECK(broken.locs.empty());
    CHECK(parseSitemap("").error != "");
    // Entity expansion bombs are refused by expat, not expanded.
    std::string bomb = "<?xml version=\"1.0\"?><!DOCTYPE u [<!ENTITY a \"aaaaaaaaaa\">";
    for (char c = 'b'; c <= 'k'; ++c) {
        bomb.append("<!ENTITY ");
        bomb.push_back(c);
        bomb.append(" \"");
        for (int k = 0; k < 10; ++k) {
            bomb.append("&");
            bomb.push_back(static_cast<char>(c - 1));
            bomb.append(";");
        }
        bomb.append("\">");
    }
    bomb += "]><urlset><url><loc>&k;</loc></url></urlset>";
    CHECK(parseSitemap(bomb).locs.size() <= 1);
}

TEST_CASE("plain URL lists are not taken for XML") {
    CHECK_FALSE(looksLikeXml("http://example.com/\n/a\n"));
    CHECK(looksLikeXml("  \n<?xml version=\"1.0\"?><urlset/>"));
    CHECK(looksLikeXml("\xEF\xBB\xBF<urlset/>"));
}
