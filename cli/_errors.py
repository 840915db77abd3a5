"""The command line's one error convention, its argument parser and its output checks.

Every problem is one line on stderr, ``nashlab[ SUBCOMMAND]: error: MESSAGE``, and an exit
status: 2 for a usage error (bad flag, unreadable file, invalid value; :class:`UsageError`,
or a ``ValueError``/``TypeError`` from the library's input checks), 1 for a run that could
not finish (:class:`Failure`: a solver failure, out of memory, an output that cannot be
written), 130 after Ctrl-C (SIGINT), with a line saying where the run stopped. Warnings
(NumPy, SciPy, cvxpy, ...) are printed as one line each (:func:`one_line_warnings`).
Outputs are checked before any work starts (:func:`writable_dir`, :func:`writable_file`).
"""

import argparse
import contextlib
import os
import re
import sys
import tempfile
import warnings
from pathlib import Path

USAGE, FAILURE, INTERRUPTED = 2, 1, 130


class UsageError(Exception):
    """A user error: reported as one line on stderr, exit status 2."""


class Failure(Exception):
    """A run that could not finish: one line on stderr, exit status 1."""


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors raise :class:`UsageError` instead of exiting, and
    whose description is shown without reST markup (:func:`plain`)."""

    def __init__(self, *args, description=None, **kwargs):
        super().__init__(*args, description=None if description is None else plain(description),
                         **kwargs)

    def error(self, message):
        raise UsageError(message)


_ROLE = re.compile(r":[a-z]+:`~?([^`]+)`")


def plain(text: str) -> str:
    """``text`` without reST markup: ``:mod:`x``` and ````x```` become ``x``."""
    return _ROLE.sub(r"\1", text).replace("``", "")


def one_line(text) -> str:
    """``text`` with its whitespace (newlines included) collapsed to single spaces."""
    return " ".join(str(text).split())


def report(prog: str, message, kind: str = "error") -> None:
    """Print ``prog: kind: message`` as one line on stderr."""
    print(f"{prog}: {kind}: {one_line(message)}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def one_line_warnings(prog: str = "nashlab"):
    """Within the block, every warning shown is one line ``prog: warning: MESSAGE
    (Category)`` on stderr instead of Python's two or more lines (file, source line)."""
    with warnings.catch_warnings():
        def show(message, category, filename, lineno, file=None, line=None):
            report(prog, f"{message} ({category.__name__})", kind="warning")

        warnings.showwarning = show
        yield


def writable_dir(path, flag: str) -> Path:
    """Create the folder ``path`` (and its parents) and check that a file can be written
    there; :class:`UsageError` naming ``flag`` otherwise (before any work starts)."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path, prefix=".nashlab-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise UsageError(f"{flag} {str(path)!r}: cannot write there ({exc.strerror or exc})") from None
    return path


def writable_file(path, flag: str) -> Path:
    """Check that the file ``path`` can be written (its folder is created); a folder or an
    unwritable place is a :class:`UsageError` naming ``flag``."""
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{flag} {str(path)!r} is a folder; give a file name")
    writable_dir(path.parent, flag)
    return path


def check_memory(needed_bytes: float, what: str) -> None:
    """:class:`UsageError` if ``what`` needs more than the memory this machine has
    available (``MemAvailable`` of /proc/meminfo, else the physical memory)."""
    available = available_memory()
    if available is not None and needed_bytes > available:
        raise UsageError(f"{what} needs about {_size(needed_bytes)} of memory; this machine "
                         f"has {_size(available)} available")


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation, or None where unknown."""
    try:
        for row in Path("/proc/meminfo").read_text().splitlines():
            if row.startswith("MemAvailable:"):
                return int(row.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def _size(n: float) -> str:
    units, k = ("B", "KB", "MB", "GB", "TB", "PB", "EB"), 0
    while n >= 1024 and k < len(units) - 1:
        n, k = n / 1024, k + 1
    return f"{n:.3g} {units[k]}"
