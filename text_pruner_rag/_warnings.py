"""Warnings that point at the caller's line, not at the library frame that noticed the problem."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

_PACKAGE_DIR = str(Path(__file__).resolve().parent)


def warn_caller(message: str, category: type[Warning] = UserWarning) -> None:
    """``warnings.warn(message, category)`` attributed to the first frame outside this package.

    The depth from a public call to the code that warns differs by path (a routed call, an adapter,
    the server), so a fixed ``stacklevel`` would blame library lines for some callers.
    """
    level = 2  # 1 is this function, 2 its caller
    frame = sys._getframe(1)
    while frame is not None and str(Path(frame.f_code.co_filename).resolve()).startswith(_PACKAGE_DIR):
        frame = frame.f_back
        level += 1
    warnings.warn(message, category, stacklevel=level)
