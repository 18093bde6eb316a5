"""TLSServer's reusable connection threads (issue 12, server throughput): a worker that
finished a connection serves the next, every connection still gets a thread at once, idle
workers end after ``worker_idle_timeout`` and on server_close.

Real stdlib `ssl` clients on 127.0.0.1.
"""

from __future__ import annotations

import socket
import socketserver
import ssl
import threading
import time
from typing import Any

import pytest

from tlskit.io import TLSServer
from tlskit.io.workers import WorkerPool

from .conftest import PKI
from .helpers import wait_for


def fetch(srv: TLSServer, pki: PKI) -> bytes:
    ctx = ssl.create_default_context(cafile=str(pki.root_pem))
    with (socket.create_connection(("127.0.0.1", srv.server_address[1]), timeout=10) as raw,
          ctx.wrap_socket(raw, server_hostname="localhost") as tls):
        return tls.recv(16)


def recording_handler(seen: list[threading.Thread]) -> type:
    class Record(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            seen.append(threading.current_thread())
            self.request.sendall(b"ok")
    return Record


def idle_workers(srv: TLSServer) -> int:
    pool = srv.worker_pool
    return 0 if pool is None else pool.idle()


def test_a_finished_worker_serves_the_next_connection(tls_server_factory: Any,
                                                      pki: PKI) -> None:
    seen: list[threading.Thread] = []
    srv = tls_server_factory(recording_handler(seen), worker_idle_timeout=30)
    for _ in range(3):
        assert fetch(srv, pki) == b"ok"
        wait_for(lambda: idle_workers(srv) == 1, "the worker to be idle again")
    assert len(seen) == 3 and seen[0] is seen[1] is seen[2]
    assert seen[0] is not threading.current_thread()
    assert srv.worker_pool is not None and srv.worker_pool.started == 1


def test_without_reuse_each_connection_gets_a_new_thread(tls_server_factory: Any,
                                                         pki: PKI) -> None:
    seen: list[threading.Thread] = []
    srv = tls_server_factory(recording_handler(seen), worker_idle_timeout=None)
    for _ in range(3):
        assert fetch(srv, pki) == b"ok"
        wait_for(lambda: not seen[-1].is_alive(), "the connection's thread to end")
    assert len({id(t) for t in seen}) == 3
    assert srv.worker_pool is None


def test_every_connection_runs_at_once_on_its_own_thread(tls_server_factory: Any,
                                                         pki: PKI) -> None:
    together = threading.Barrier(3, timeout=10)  # broken unless 3 handlers run at once

    class Meet(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            together.wait()
            self.request.sendall(b"ok")

    srv = tls_server_factory(Meet, worker_idle_timeout=30)
    answers: list[bytes] = []
    clients = [threading.Thread(target=lambda: answers.append(fetch(srv, pki)))
               for _ in range(3)]
    for t in clients:
        t.start()
    for t in clients:
        t.join(20)
    assert answers == [b"ok"] * 3
    wait_for(lambda: idle_workers(srv) == 3, "the three workers to be idle")
    assert srv.worker_pool is not None and srv.worker_pool.started == 3


def test_idle_workers_end_after_the_idle_timeout(tls_server_factory: Any, pki: PKI) -> None:
    seen: list[threading.Thread] = []
    srv = tls_server_factory(recording_handler(seen), worker_idle_timeout=0.2)
    assert fetch(srv, pki) == b"ok"
    wait_for(lambda: not seen[0].is_alive(), "the idle worker to end")
    assert idle_workers(srv) == 0
    assert fetch(srv, pki) == b"ok"  # and the next connection starts a new one
    assert seen[1] is not seen[0]
    assert srv.worker_pool is not None and srv.worker_pool.started == 2


def test_server_close_ends_idle_workers(server_config: Any, pki: PKI) -> None:
    seen: list[threading.Thread] = []
    srv = TLSServer(("127.0.0.1", 0), recording_handler(seen), server_config,
                    worker_idle_timeout=3600)
    serving = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05})
    serving.start()
    try:
        assert fetch(srv, pki) == b"ok"
        wait_for(lambda: idle_workers(srv) == 1, "the worker to be idle")
    finally:
        srv.shutdown()
        srv.server_close()
    serving.join(10)
    seen[0].join(10)
    assert not seen[0].is_alive()


def test_pool_runs_every_job_once_when_waits_run_out_as_jobs_arrive() -> None:
    pool = WorkerPool(idle_timeout=0.0005)  # workers retire all the time
    ran: list[int] = []
    lock = threading.Lock()

    def job(i: int) -> None:
        with lock:
            ran.append(i)

    for i in range(400):
        pool.submit(job, i)
        if i % 7 == 0:
            time.sleep(0.0005)
    wait_for(lambda: len(ran) == 400, "all jobs to run")
    pool.close(wait=True)
    assert sorted(ran) == list(range(400))
    with pytest.raises(RuntimeError, match="closed"):
        pool.submit(job, 0)


def test_a_job_that_raises_ends_only_its_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    reported: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: reported.append(args.exc_value))
    pool = WorkerPool(idle_timeout=30)
    done = threading.Event()

    def boom() -> None:
        raise ValueError("a bug in a job")

    pool.submit(boom)
    wait_for(lambda: bool(reported), "the exception to reach threading.excepthook")
    assert isinstance(reported[0], ValueError)
    assert pool.idle() == 0  # that worker is gone, not waiting for work
    pool.submit(done.set)
    assert done.wait(10) and pool.started == 2
    pool.close(wait=True)


def test_server_close_waits_for_non_daemon_workers(server_config: Any, pki: PKI) -> None:
    at_handler, release = threading.Event(), threading.Event()

    class Hold(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            at_handler.set()
            release.wait(20)
            self.request.sendall(b"ok")

    class Joining(TLSServer):
        daemon_threads = False  # with block_on_close (the default): server_close joins

    srv = Joining(("127.0.0.1", 0), Hold, server_config, worker_idle_timeout=3600)
    serving = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05})
    serving.start()
    answers: list[bytes] = []
    client = threading.Thread(target=lambda: answers.append(fetch(srv, pki)))
    client.start()
    assert at_handler.wait(10)
    srv.shutdown()
    serving.join(10)
    closing = threading.Thread(target=srv.server_close)
    closing.start()
    closing.join(0.2)
    assert closing.is_alive()  # still waiting for the busy worker
    release.set()
    closing.join(10)
    client.join(10)
    assert not closing.is_alive() and answers == [b"ok"]
    assert srv.worker_pool is not None and srv.worker_pool.idle() == 0
