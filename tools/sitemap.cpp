#include "tools/sitemap.h"

#include <expat.h>

#include "cache/page/compress.h"

namespace fc::tools {

namespace {

// Element names without a namespace prefix or URI (expat without namespace processing gives
// "prefix:name"; sitemaps normally use the default namespace).
std::string_view localName(const XML_Char *name) {
    std::string_view n(name);
    std::size_t colon = n.rfind(':');
    return colon == std::string_view::npos ? n : n.substr(colon + 1);
}

struct State {
    Sitemap *out = nullptr;
    int depth = 0;
    bool rootSeen = false;
    bool inLoc = false;
    std::string text;
};

void onStart(void *ud, const XML_Char *name, const XML_Char **) {
    auto *s = static_cast<State *>(ud);
    std::string_view n = localName(name);
    if (s->depth++ == 0) {
        s->rootSeen = true;
        if (n == "sitemapindex")
            s->out->index = true;
        else if (n != "urlset")
            s->out->error = "not a sitemap: the root element is <" + std::string(n) +
                            "> (expected <urlset> or <sitemapindex>)";
        return;
    }
    // <urlset><url><loc> or <sitemapindex><sitemap><loc>: a loc two levels down.
    if (n == "loc" && s->depth == 3) {
        s->inLoc = true;
        s->text.clear();
    }
}

void onEnd(void *ud, const XML_Char *) {
    auto *s = static_cast<State *>(ud);
    --s->depth;
    if (s->inLoc) {
        s->inLoc = false;
        std::string_view t = s->text;
        std::size_t b = t.find_first_not_of(" \t\r\n");
        std::size_t e = t.find_last_not_of(" \t\r\n");
        if (b != std::string_view::npos)
            s->out->locs.emplace_back(t.substr(b, e - b + 1));
    }
}

void onText(void *ud, const XML_Char *text, int len) {
    auto *s = static_cast<State *>(ud);
    if (s->inLoc)
        s->text.append(text, static_cast<std::size_t>(len));
}

} // namespace

bool looksLikeXml(std::string_view bytes) {
    if (bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
        static_cast<unsigned char>(bytes[1]) == 0x8b)
        return true; // gzip: a compressed sitemap
    std::size_t i = bytes.find_first_not_of(" \t\r\n");
    if (i != std::string_view::npos && bytes.substr(i, 3) == "\xEF\xBB\xBF") // UTF-8 BOM
        i += 3;
    return i < bytes.size() && bytes[i] == '<';
}

Sitemap parseSitemap(std::string_view bytes) {
    Sitemap out;
    std::string inflated;
    if (bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
        static_cast<unsigned char>(bytes[1]) == 0x8b) {
        // The protocol caps a sitemap at 50 MB uncompressed; allow some slack.
        if (!cache::decodeBody(http::Coding::Gzip, bytes, 256u << 20, inflated)) {
            out.error = "corrupt gzip data";
            return out;
        }
        bytes = inflated;
    }
    XML_Parser p = XML_ParserCreate(nullptr);
    State st;
    st.out = &out;
    XML_SetUserData(p, &st);
    XML_SetElementHandler(p, &onStart, &onEnd);
    XML_SetCharacterDataHandler(p, &onText);
    // Expat's own limits guard against entity expansion ("billion laughs"); no external
    // entities are ever loaded (no handler is set).
    bool ok = true;
    while (ok && !bytes.empty()) {
        std::size_t n = std::min<std::size_t>(bytes.size(), 1 << 20);
        ok = XML_Parse(p, bytes.data(), static_cast<int>(n), 0) == XML_STATUS_OK;
        bytes.remove_prefix(n);
    }
    if (ok)
        ok = XML_Parse(p, "", 0, 1) == XML_STATUS_OK;
    if (!ok && out.error.empty())
        out.error = std::string("not well-formed XML at line ") +
                    std::to_string(XML_GetCurrentLineNumber(p)) + ": " +
                    XML_ErrorString(XML_GetErrorCode(p));
    XML_ParserFree(p);
    if (!st.rootSeen && out.error.empty())
        out.error = "empty document";
    if (!out.error.empty())
        out.locs.clear();
    return out;
}

} // namespace fc::tools
