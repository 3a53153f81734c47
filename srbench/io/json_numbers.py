"""The one way srbench writes a number into JSON.

JSON has no infinity or NaN. A PSNR of identical volumes is ``+inf`` (a real result), so
non-finite numbers are written as the strings ``"inf"``, ``"-inf"`` and ``"nan"``, the
same in every JSON srbench writes (evaluate and score rows, verify, results show, exports);
:func:`number_from_json` reads them back.
"""

from __future__ import annotations

import math
from typing import Any

_TEXT = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}


def json_number(value: Any) -> Any:
    """``value`` for JSON: a finite float as it is, ``inf``/``-inf``/``nan`` as strings;
    anything that is not a float (an int, a string, None) unchanged."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def number_from_json(value: Any) -> float:
    """The inverse of :func:`json_number` for a number or one of its strings.

    Raises:
        ValueError: anything else (a boolean, another string, a container).
    """
    if isinstance(value, str) and value in _TEXT:
        return _TEXT[value]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"expected a number, \"inf\", \"-inf\" or \"nan\", got {value!r}")
    return float(value)
