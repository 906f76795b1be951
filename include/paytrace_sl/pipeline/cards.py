"""Card brand from a masked card number's BIN (first six digits, present with ``include_bin``).

PayTrace exports no brand field (reference §3.1); the GL clearing account may depend on the brand
(Amex often settles to its own account), so we derive it from the IIN ranges. A mask without a BIN
(``************1111``) gives ``unknown``. Only masked numbers ever reach this module.
"""

from __future__ import annotations

import re

BRANDS = ("visa", "mastercard", "amex", "discover", "diners", "jcb", "unknown")

_BIN = re.compile(r"^(\d{6})[*xX]+\d{4}$")


def _brand_of_bin(bin6: str) -> str:
    two, three, four, six = int(bin6[:2]), int(bin6[:3]), int(bin6[:4]), int(bin6)
    if bin6[0] == "4":
        return "visa"
    if 51 <= two <= 55 or 222100 <= six <= 272099:
        return "mastercard"
    if two in (34, 37):
        return "amex"
    if four == 6011 or two == 65 or 644 <= three <= 649 or 622126 <= six <= 622925:
        return "discover"
    if 3528 <= four <= 3589:
        return "jcb"
    if 300 <= three <= 305 or two in (36, 38, 39) or three == 309:
        return "diners"
    return "unknown"


def brand_from_masked(masked: str) -> str:
    """``"411111******1111"`` → ``"visa"``; no BIN or unrecognised range → ``"unknown"``."""
    match = _BIN.match(masked.strip()) if isinstance(masked, str) else None
    return _brand_of_bin(match.group(1)) if match else "unknown"
