"""The Cache-Groups and Cache-Group-Invalidation fields (RFC 9875): each is a Structured Field
List (RFC 8941) of Strings. This module checks group names, serialises them and reads back a
field a view may have set itself, so that what goes out is always one field frontcache accepts.

A group name is sent as it is when it is printable ASCII (0x20-0x7E) and at most
MAX_GROUP_BYTES long. Any other name is sent as its wire name (wire_name): characters outside
printable ASCII percent-encoded as UTF-8, and a name still too long replaced by "sha256:" and the
hex digest of its UTF-8 — the same function on the page that declares a group and on the purge
that names it, so a Unicode slug or a long name is never a page that no purge can reach. Empty
names and values that are not names are dropped with a logged warning; at most MAX_GROUPS are
kept per field (frontcache ignores a field it cannot parse as a whole, so one bad name must not
cost the page all its groups)."""

import hashlib
import logging

logger = logging.getLogger("frontcache_django")

CACHE_GROUPS = "Cache-Groups"
CACHE_GROUP_INVALIDATION = "Cache-Group-Invalidation"
MAX_GROUP_BYTES = 256
MAX_GROUPS = 128


def problem(group):
    """Why `group` cannot be sent at all (a short phrase), or None when it can."""
    if not isinstance(group, str):
        return "not a string (%s)" % type(group).__name__
    if not group:
        return "empty"
    return None


def wire_name(group):
    """The name frontcache is given for `group` (a non-empty str): itself when it is printable
    ASCII of at most MAX_GROUP_BYTES; else non-printable characters as %XX of their UTF-8, and
    when that is still too long, "sha256:" + the hex digest of the name's UTF-8."""
    if all(" " <= ch <= "~" for ch in group) and len(group) <= MAX_GROUP_BYTES:
        return group
    encoded = "".join(ch if " " <= ch <= "~" else
                      "".join("%%%02X" % b for b in ch.encode("utf-8", "surrogatepass"))
                      for ch in group)
    if len(encoded) <= MAX_GROUP_BYTES:
        return encoded
    return "sha256:" + hashlib.sha256(group.encode("utf-8", "surrogatepass")).hexdigest()


def _as_text(group):
    # Integers are accepted as a convenience (add_cache_groups(response, article.pk) is a
    # mistake worth keeping working); bool is an int but never a group name.
    if isinstance(group, int) and not isinstance(group, bool):
        return str(group)
    return group


def flatten(groups):
    """The group names in `groups`, where any item may itself be a list, tuple, set or other
    non-string iterable of names (one level)."""
    out = []
    for g in groups:
        if isinstance(g, (str, int, bytes, bytearray)) or g is None:
            out.append(_as_text(g))
        else:
            try:
                out.extend(_as_text(x) for x in g)
            except TypeError:
                out.append(g)
    return out


def clean(groups, field=CACHE_GROUPS):
    """`groups` de-duplicated in their order, without the ones that cannot be sent, and at most
    MAX_GROUPS of them; each one dropped is logged as a warning naming `field`."""
    seen = set()
    out = []
    for g in flatten(groups):
        why = problem(g)
        if why:
            logger.warning("%s: group %r dropped: %s", field, g, why)
            continue
        g = wire_name(g)
        if g in seen:
            continue
        seen.add(g)
        out.append(g)
    if len(out) > MAX_GROUPS:
        logger.warning("%s: %d groups, only the first %d kept (%s ... dropped)", field, len(out),
                       MAX_GROUPS, out[MAX_GROUPS])
        out = out[:MAX_GROUPS]
    return out


def serialize_string(group):
    """One sf-string: double quotes around it, `"` and `\\` escaped with a backslash."""
    return '"%s"' % group.replace("\\", "\\\\").replace('"', '\\"')


def serialize(groups):
    """The field value for `groups` (already checked with clean())."""
    return ", ".join(serialize_string(g) for g in groups)


class ParseError(ValueError):
    pass


def _skip_ows(s, i):
    while i < len(s) and s[i] in " \t":
        i += 1
    return i


def _parse_string(s, i):
    """The sf-string starting at s[i] (a double quote): (text, index after it)."""
    out = []
    i += 1
    while i < len(s):
        ch = s[i]
        if ch == "\\":
            if i + 1 >= len(s) or s[i + 1] not in '"\\':
                raise ParseError("bad escape at %d" % i)
            out.append(s[i + 1])
            i += 2
        elif ch == '"':
            return "".join(out), i + 1
        elif not " " <= ch <= "~":
            raise ParseError("character %r in a string" % ch)
        else:
            out.append(ch)
            i += 1
    raise ParseError("unterminated string")


_BARE_END = ",;()\" \t"


def _skip_bare_item(s, i, end=_BARE_END):
    """Past a bare item that is not a string (token, number, byte sequence, boolean)."""
    start = i
    while i < len(s) and s[i] not in end:
        i += 1
    if i == start:
        raise ParseError("unexpected %r at %d" % (s[i] if i < len(s) else "end", i))
    return i


def _skip_value(s, i):
    return _parse_string(s, i)[1] if i < len(s) and s[i] == '"' else _skip_bare_item(s, i)


def _skip_parameters(s, i):
    while i < len(s) and s[i] == ";":
        i = _skip_ows(s, i + 1)
        i = _skip_bare_item(s, i, _BARE_END + "=")  # the key
        if i < len(s) and s[i] == "=":
            i = _skip_value(s, i + 1)
    return i


def parse(value):
    """The strings of a Cache-Groups-style field value: (strings, ignored), `ignored` being the
    members that are not strings (inner lists, tokens, numbers), as text. Parameters on members
    are ignored. Raises ParseError when the value is not a List at all."""
    s = value.strip(" \t")
    strings, ignored = [], []
    i = 0
    while i < len(s):
        start = i
        if s[i] == '"':
            text, i = _parse_string(s, i)
            strings.append(text)
        elif s[i] == "(":
            i += 1
            while True:
                i = _skip_ows(s, i)
                if i >= len(s):
                    raise ParseError("unterminated inner list")
                if s[i] == ")":
                    i += 1
                    break
                i = _skip_parameters(s, _skip_value(s, i))
            ignored.append(s[start:i])
        else:
            i = _skip_bare_item(s, i)
            ignored.append(s[start:i])
        i = _skip_parameters(s, i)
        i = _skip_ows(s, i)
        if i >= len(s):
            break
        if s[i] != ",":
            raise ParseError("expected ',' at %d" % i)
        i = _skip_ows(s, i + 1)
        if i >= len(s):
            raise ParseError("trailing comma")
    return strings, ignored


def merge_into(response, field, groups):
    """Sets `field` on `response` to the groups it already names followed by `groups`,
    de-duplicated in that order and checked; removes the field when nothing is left."""
    existing = []
    current = response.get(field) if hasattr(response, "get") else None
    if current is not None:
        try:
            existing, ignored = parse(current)
            for item in ignored:
                logger.warning("%s: member %s dropped: not a string", field, item)
        except ParseError as e:
            logger.warning("%s: the value the response had (%r) is not a List of Strings (%s): "
                           "replaced", field, current, e)
    groups = clean(existing + flatten(groups), field)
    if groups:
        response[field] = serialize(groups)
    elif current is not None:
        del response[field]
    return groups


def groups_of(response, field=CACHE_GROUPS):
    """The groups `response` carries in `field` (a list; empty when it has none or an
    unreadable one)."""
    value = response.get(field)
    if value is None:
        return []
    try:
        return parse(value)[0]
    except ParseError:
        return []
