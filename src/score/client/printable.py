r"""Text from elsewhere (a server's message, a registry's file name) made safe to print on a terminal.

A control character printed raw can clear the screen, move the cursor, retitle the window or,
as a newline or carriage return, forge a line of the client's own output. Each is shown as an
escape instead: ``\\x1b`` for ESC, ``\\u202e`` for a bidirectional override. Unpaired
surrogates (a non-UTF-8 file name decoded with ``surrogateescape``) are escaped too, as they
cannot be encoded for the terminal.
"""

from __future__ import annotations

_BIDI = (*range(0x202A, 0x202F), *range(0x2066, 0x206A))  # embeddings, overrides and isolates
_UNSAFE = (*range(0x20), *range(0x7F, 0xA0), *_BIDI, 0x2028, 0x2029)


def _escape(code: int) -> str:
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


_ALL = {code: _escape(code) for code in _UNSAFE}
_KEEP_LINES = {code: text for code, text in _ALL.items() if code not in (0x09, 0x0A)}


def _surrogates(text: str) -> str:
    return "".join(_escape(ord(ch)) if 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in text)


def printable(text: str) -> str:
    """*text* with every control character escaped, newlines and tabs included: for one fragment that
    came from elsewhere (a file name, a server's message) and must stay on its line.
    """
    out = text.translate(_ALL)
    return out if out.isascii() else _surrogates(out)


def printable_lines(text: str) -> str:
    """*text* with every control character but newline and tab escaped: for a whole message about to
    be printed, whose line breaks the client made.
    """
    out = text.translate(_KEEP_LINES)
    return out if out.isascii() else _surrogates(out)
