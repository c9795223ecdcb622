"""Making stored text safe to print: invoice data comes from upstream systems and may
hold newlines, terminal escape codes or rich markup."""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def safe(value: object) -> str:
    """One printable line: control characters (ESC included) shown as \\xNN escapes."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(value))
