// Sitemaps (sitemaps.org protocol 0.9) for `frontcache warm`: the <loc> of every <url> in a
// <urlset>, or of every <sitemap> in a <sitemapindex> (then fetched in turn). Parsed with expat,
// streaming, so a 50 MB sitemap costs no more memory than its URLs; gzip-compressed sitemaps
// (.xml.gz) are inflated with zlib first.
//
// Pure: bytes in, URLs out. Threading: any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace fc::tools {

struct Sitemap {
    bool index = false;            // a <sitemapindex>: `locs` are sitemaps, not pages
    std::vector<std::string> locs; // in document order, entities decoded, whitespace trimmed
    std::string error;             // not XML, or not a sitemap: what was wrong
};

// `bytes` may be gzip-compressed (detected by its magic number).
Sitemap parseSitemap(std::string_view bytes);

// Does this look like XML (rather than a plain list of URLs, one per line)?
bool looksLikeXml(std::string_view bytes);

} // namespace fc::tools
