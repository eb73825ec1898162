"""Write a journal off the caller's thread.

A :class:`~probes.record.journal.Journal` fsyncs every event, which can take tens of
milliseconds on a busy disk; an interactive face must not wait for that.
:class:`JournalWriter` is an :class:`~probes.core.events.EventSink` whose ``emit``
only queues the event: one daemon thread opens the journal (creating a file
fsyncs too) and writes the events in order.  :meth:`JournalWriter.flush`
waits until everything queued is on disk — before reading the journal back
for a report, or when the terminal hangs up.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

from probes.record.journal import Journal

_STOP = object()


class JournalWriter:
    def __init__(self, open_journal: Callable[[], Journal]) -> None:
        self._open_journal = open_journal
        self._journal: Journal | None = None
        self._opened = threading.Event()
        self._queue: queue.Queue[object] = queue.Queue()
        self._closed = False
        self.error = ""  # why the journal could not be opened
        self._thread = threading.Thread(target=self._drain, name="journal-writer", daemon=True)
        self._thread.start()

    @property
    def journal(self) -> Journal | None:
        """The journal, once the writer thread has opened it (None if that failed)."""
        self._opened.wait()
        return self._journal

    def emit(self, event: object) -> None:
        if not self._closed:
            self._queue.put(event)

    def flush(self) -> None:
        """Return once every event emitted so far is written (and fsynced)."""
        self._queue.join()

    def close(self, clean: bool = True, wait: bool = True) -> None:
        """Write what is queued, then the ``end`` event when *clean*, and close.

        With ``wait=False`` this only asks the thread to finish (for an event
        loop); a later ``close()`` waits for it.  Idempotent."""
        if not self._closed:
            self._closed = True
            self._queue.put((_STOP, clean))
        if wait:
            self._thread.join()

    def _drain(self) -> None:
        try:
            self._journal = self._open_journal()
        except Exception as exc:  # the queue must still drain, or flush() would hang
            self.error = f"cannot open the session journal: {exc}"
        finally:
            self._opened.set()
        while True:
            event = self._queue.get()
            try:
                if isinstance(event, tuple) and event[:1] == (_STOP,):
                    if self._journal is not None:
                        self._journal.close(clean=bool(event[1]))
                    return
                if self._journal is not None:
                    self._journal.emit(event)
            except (TypeError, ValueError):  # an unserialisable result: skip it, go on
                pass
            finally:
                self._queue.task_done()
