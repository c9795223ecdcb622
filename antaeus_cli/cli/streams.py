"""Standard output and error that a pass can always write to.

Under cron, stdout and stderr are a log file on a disk that may fill up, a pipe whose
reader may go away, or closed outright. None of that is the pass's business: a line
that cannot be written is dropped, the pass goes on, and its exit code is its own.
After the first failed write the stream's descriptor is pointed at /dev/null, so
that nothing later (a flush at exit included) fails again.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from typing import Any, TextIO

# Errors a write to a log or a pipe may meet that say nothing about the pass.
_LOST = (OSError, ValueError)  # EPIPE, ENOSPC, EBADF, EIO...; "I/O on closed file"


class TolerantStream:
    """A text stream whose writes never raise."""

    def __init__(self, stream: TextIO | None) -> None:
        self._stream = stream
        self.lost = stream is None  # some output could not be written

    def write(self, text: str) -> int:
        if self._stream is not None:
            try:
                self._stream.write(text)
            except UnicodeEncodeError:  # a character this stream's encoding cannot hold
                self.write(text.encode(self.encoding, "backslashreplace").decode(self.encoding))
            except _LOST:
                self._give_up()
        return len(text)

    def flush(self) -> None:
        if self._stream is not None:
            try:
                self._stream.flush()
            except _LOST:
                self._give_up()

    def isatty(self) -> bool:
        try:
            return self._stream is not None and self._stream.isatty()
        except _LOST:
            return False

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        if self._stream is None:
            raise io.UnsupportedOperation("this output is dropped")
        return self._stream.fileno()

    @property
    def encoding(self) -> str:
        return getattr(self._stream, "encoding", None) or "utf-8"

    @property
    def errors(self) -> str:
        return getattr(self._stream, "errors", None) or "strict"

    def __getattr__(self, name: str) -> Any:
        if self._stream is None:
            raise AttributeError(name)
        return getattr(self._stream, name)

    def _give_up(self) -> None:
        """Drop this stream's output from now on: the descriptor goes to /dev/null, so
        the buffered bytes and any later flush land there without an error."""
        self.lost = True
        stream, self._stream = self._stream, None
        if stream is None:
            return
        with contextlib.suppress(OSError, ValueError, AttributeError):
            fd = stream.fileno()
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, fd)
            os.close(null)


def install() -> None:
    """Replace sys.stdout and sys.stderr with streams whose writes never raise."""
    if not isinstance(sys.stdout, TolerantStream):
        sys.stdout = TolerantStream(sys.stdout)
    if not isinstance(sys.stderr, TolerantStream):
        sys.stderr = TolerantStream(sys.stderr)
