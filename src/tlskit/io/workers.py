"""Reusable connection threads for `TLSServer`: `WorkerPool`.

Why: starting a thread per connection (what `socketserver.ThreadingMixIn` does) costs a
clone, a new stack, the thread's bootstrap in Python, and a GIL handoff (the accepting
thread waits until the new one has started). A worker that finished a connection instead
waits ``idle_timeout`` seconds for the next one, so a busy server starts threads only when
all of them are busy, and an idle one goes back to no worker threads.

Each job still gets a thread of its own at once (never queued behind busy workers), as
with a thread per connection; only thread-local state outlives a connection.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["WorkerPool"]

Job = tuple[Callable[..., object], tuple[Any, ...]]
_STOP: Job = (lambda: None, ())


class _Worker:
    """An idle worker's mailbox: the next job, or _STOP."""

    __slots__ = ("jobs",)

    def __init__(self) -> None:
        self.jobs: queue.SimpleQueue[Job] = queue.SimpleQueue()


class WorkerPool:
    """Runs each submitted job at once, on an idle worker thread if there is one (the
    most recently idle: its stack is warm), else on a new one."""

    def __init__(self, idle_timeout: float, *, daemon: bool = True,
                 name: str = "tlskit-worker") -> None:
        self.idle_timeout = idle_timeout
        self.daemon = daemon
        self.name = name
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []   # a stack: the last to finish is the next to run
        self._threads: set[threading.Thread] = set()
        self._closed = False
        self.started = 0                 # threads started so far (for tests and stats)

    def submit(self, fn: Callable[..., object], *args: Any) -> None:
        """Run ``fn(*args)`` on a worker thread now. Exceptions are the job's business:
        one that escapes ends that worker thread (as it would end a thread per job)."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the worker pool is closed")
            worker = self._idle.pop() if self._idle else None
            if worker is None:
                self.started += 1
                number = self.started
        if worker is not None:
            worker.jobs.put((fn, args))
            return
        thread = threading.Thread(target=self._run, args=(_Worker(), (fn, args)),
                                  name=f"{self.name}-{number}", daemon=self.daemon)
        with self._lock:
            self._threads.add(thread)
        try:
            thread.start()
        except BaseException:  # the system's thread limit: not a thread to wait for
            with self._lock:
                self._threads.discard(thread)
                self.started -= 1  # nor one to count
            raise

    def _run(self, worker: _Worker, job: Job) -> None:
        try:
            while job is not _STOP:
                fn, args = job
                fn(*args)
                del fn, args, job  # the connection is not kept alive while idle
                job = self._next(worker)
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())

    def _next(self, worker: _Worker) -> Job:
        """Wait idle for the next job; _STOP after ``idle_timeout`` or on close."""
        with self._lock:
            if self._closed:
                return _STOP
            self._idle.append(worker)
        try:
            return worker.jobs.get(timeout=self.idle_timeout)
        except queue.Empty:
            with self._lock:
                if worker in self._idle:  # nobody chose this worker: retire it
                    self._idle.remove(worker)
                    return _STOP
            return worker.jobs.get()  # chosen as the wait ran out: its job is on the way

    def idle(self) -> int:
        """Worker threads waiting for a job."""
        with self._lock:
            return len(self._idle)

    def close(self, wait: bool = False) -> None:
        """Idle workers end now, busy ones after their job; ``wait`` joins them all."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
            threads = list(self._threads)
        for worker in idle:
            worker.jobs.put(_STOP)
        if wait:
            for thread in threads:
                if thread is not threading.current_thread():
                    thread.join()
