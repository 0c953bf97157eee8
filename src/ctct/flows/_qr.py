"""A QR code as terminal text, for the device flow's ``verification_uri_complete``:
the person scans it with a phone instead of typing the URL and the code."""

from __future__ import annotations

import io

import segno


def qr_text(data: str, *, border: int = 2, compact: bool = True) -> str:
    """``data`` as a QR code drawn with block characters (dark modules on a light
    terminal background and vice versa both scan: the quiet zone is drawn too).

    ``compact`` packs two rows per line with half blocks, so a URL fits in ~20 lines.
    """
    code = segno.make(data, error="l", micro=False)
    out = io.StringIO()
    code.terminal(out=out, border=border, compact=compact)
    return out.getvalue()
