"""The parts of Go's ``net/url`` that Kargo's URL normalisers depend on, ported exactly.

Kargo's Freight IDs contain URLs normalised with Go's parser, and its quirks (escaping, which
hosts are rejected, how a URL is printed back) reach the ID; ``urllib`` differs on enough of
them that an approximation would give other IDs for the same artifacts.
"""

import ipaddress
import re
from dataclasses import dataclass

_PATH, _HOST, _ZONE, _USER, _QUERY, _FRAGMENT = range(6)
_HOST_OK = frozenset(b"!$&'()*+,;=:[]<>\"")
_USERINFO_OK = frozenset("-._:~!$&'()*+,;=%@")


class GoURLError(Exception):
    """Go's url.Parse would fail; the normaliser then returns its input unchanged."""


@dataclass
class GoURL:
    scheme: str = ""
    opaque: str = ""
    user: tuple[str, str | None] | None = None  # (username, password if one was given)
    host: str = ""
    path: str = ""
    raw_path: str = ""
    omit_host: bool = False
    force_query: bool = False
    raw_query: str = ""
    fragment: str = ""
    raw_fragment: str = ""


def _bytes(s: str) -> bytes:
    # Go strings are bytes; surrogateescape carries undecodable bytes through unescaping.
    return s.encode("utf-8", "surrogateescape")


def _should_escape(c: int, mode: int) -> bool:
    if chr(c).isascii() and chr(c).isalnum():
        return False
    if mode in (_HOST, _ZONE) and c in _HOST_OK:
        return False
    if c in b"-_.~":
        return False
    if c in b"$&+,/:;=?@":
        return {_PATH: c == ord("?"), _USER: c in b"@/?:", _QUERY: True}.get(mode, False)
    return not (mode == _FRAGMENT and c in b"!()*")


def _unescape(s: str, mode: int) -> str:
    b, out, i = _bytes(s), bytearray(), 0
    while i < len(b):
        c = b[i]
        if c == ord("%"):
            hex2 = b[i + 1 : i + 3]
            if len(hex2) < 2 or not all(chr(h) in "0123456789abcdefABCDEF" for h in hex2):
                raise GoURLError
            value = int(hex2, 16)
            if mode == _HOST and value >> 4 < 8 and hex2 != b"25":
                raise GoURLError  # a host may %-encode only non-ASCII bytes (or %25)
            if mode == _ZONE and hex2 != b"25" and value != 0x20 and _should_escape(value, _HOST):
                raise GoURLError
            out.append(value)
            i += 3
            continue
        if mode in (_HOST, _ZONE) and c < 0x80 and _should_escape(c, mode):
            raise GoURLError
        out.append(ord(" ") if c == ord("+") and mode == _QUERY else c)
        i += 1
    return out.decode("utf-8", "surrogateescape")


def _escape(s: str, mode: int) -> str:
    return "".join(f"%{c:02X}" if _should_escape(c, mode) else chr(c) for c in _bytes(s))


def _valid_encoded(s: str, mode: int) -> bool:
    ok = b"!$&'()*+,;=:@[]%"
    return all(c in ok or not _should_escape(c, mode) for c in _bytes(s))


def _valid_port(colon_port: str) -> bool:
    return re.fullmatch(r"(:[0-9]*)?", colon_port) is not None


def _parse_host(scheme: str, host: str) -> str:
    bracket = host.rfind("[")
    if bracket > 0:
        raise GoURLError
    if bracket == 0:
        close = host.rfind("]")
        if close < 0 or not _valid_port(host[close + 1 :]):
            raise GoURLError
        port = _unescape(host[close + 1 :], _HOST)
        name = host[1:close]
        zone = name.find("%25")  # RFC 6874 zone identifiers follow an escaped percent sign
        if zone >= 0:
            name = _unescape(name[:zone], _HOST) + _unescape(name[zone:], _ZONE)
        else:
            name = _unescape(name, _HOST)
        try:
            if not isinstance(ipaddress.ip_address(name), ipaddress.IPv6Address):
                raise GoURLError  # brackets may hold only an IPv6 literal
        except ValueError as e:
            raise GoURLError from e
        return f"[{name}]{port}"
    colon = host.find(":")
    if colon != -1:
        # Since Go 1.26 only http(s) hosts must have a single colon; others keep the last one.
        if scheme not in ("http", "https"):
            colon = host.rfind(":")
        if not _valid_port(host[colon:]):
            raise GoURLError
    return _unescape(host, _HOST)


def _parse_authority(url: GoURL, authority: str) -> None:
    at = authority.rfind("@")
    url.host = _parse_host(url.scheme, authority[at + 1 :])
    if at < 0:
        return
    userinfo = authority[:at]
    if not all((c.isascii() and c.isalnum()) or c in _USERINFO_OK for c in userinfo):
        raise GoURLError
    username, has_password, password = userinfo.partition(":")
    url.user = (_unescape(username, _USER), _unescape(password, _USER) if has_password else None)


def parse_go_url(raw: str) -> GoURL:
    """Parse ``raw`` as Go's ``url.Parse`` does, raising ``GoURLError`` where Go errors."""
    raw, _, fragment = raw.partition("#")
    url = GoURL()
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in raw):
        raise GoURLError
    if raw == "*":
        url.path = "*"
        return url
    scheme_match = re.match(r"[a-zA-Z][a-zA-Z0-9+.-]*:", raw)
    if raw.startswith(":"):
        raise GoURLError  # missing protocol scheme
    rest = raw
    if scheme_match:
        url.scheme, rest = scheme_match.group()[:-1].lower(), raw[scheme_match.end() :]
    if rest.endswith("?") and rest.count("?") == 1:
        url.force_query, rest = True, rest[:-1]
    else:
        rest, _, url.raw_query = rest.partition("?")
    if not rest.startswith("/"):
        if url.scheme:
            url.opaque = rest
            return _set_fragment(url, fragment)
        if ":" in rest.partition("/")[0]:
            raise GoURLError  # a relative path's first segment cannot contain a colon
    if (url.scheme or not rest.startswith("///")) and rest.startswith("//"):
        authority, slash, tail = rest[2:].partition("/")
        rest = slash + tail
        _parse_authority(url, authority)
    elif url.scheme and rest.startswith("/"):
        url.omit_host = True
    url.path = _unescape(rest, _PATH)
    url.raw_path = "" if _escape(url.path, _PATH) == rest else rest
    return _set_fragment(url, fragment)


def _set_fragment(url: GoURL, fragment: str) -> GoURL:
    if fragment:
        url.fragment = _unescape(fragment, _FRAGMENT)
        url.raw_fragment = "" if _escape(url.fragment, _FRAGMENT) == fragment else fragment
    return url


def _escaped(value: str, raw: str, mode: int) -> str:
    # Go reuses the raw spelling only while it still decodes to the (possibly edited) value.
    if raw and _valid_encoded(raw, mode):
        try:
            if _unescape(raw, mode) == value:
                return raw
        except GoURLError:
            pass
    if mode == _PATH and value == "*":
        return value
    return _escape(value, mode)


def go_url_string(url: GoURL) -> str:
    """Reassemble ``url`` as Go's ``URL.String`` does."""
    out = f"{url.scheme}:" if url.scheme else ""
    if url.opaque:
        out += url.opaque
    else:
        if (url.scheme or url.host or url.user is not None) and not (
            url.omit_host and not url.host and url.user is None
        ):
            if url.host or url.path or url.user is not None:
                out += "//"
            if url.user is not None:
                name, password = url.user
                out += _escape(name, _USER)
                out += "" if password is None else ":" + _escape(password, _USER)
                out += "@"
            out += _escape(url.host, _HOST)
        path = _escaped(url.path, url.raw_path, _PATH)
        if path and path[0] != "/" and url.host:
            out += "/"
        if not out and ":" in path.partition("/")[0]:
            out += "./"
        out += path
    if url.force_query or url.raw_query:
        out += "?" + url.raw_query
    if url.fragment:
        out += "#" + _escaped(url.fragment, url.raw_fragment, _FRAGMENT)
    return out


def has_query_params(raw_query: str) -> bool:
    """Whether Go's ``URL.Query()`` would hold at least one parameter."""
    for pair in raw_query.split("&"):
        if not pair or ";" in pair:
            continue
        key, _, value = pair.partition("=")
        try:
            _unescape(key, _QUERY)
            _unescape(value, _QUERY)
        except GoURLError:
            continue
        return True
    return False
