"""The robustness contract every hostile-input test and fuzz harness checks: feeding a
connection anything returns events or raises a `TLSError` with a real protocol alert
(never internal_error), the alert is what the connection queues last, and the error
sticks. pytest-free, so the fuzz harnesses run it too."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tlskit import AlertDescription, AlertReceived, TLSError

from .records import ALERT, APPDATA, split_records

# A TLS 1.3 protected alert: 2 bytes of alert, the inner type, a 16-byte tag.
PROTECTED_ALERT13 = bytes((APPDATA, 3, 3, 0, 2 + 1 + 16))


def ends_with_alert(out: bytes, alert: int) -> bool:
    """Whether the last record of ``out`` is an alert: plaintext ``02 alert``, a TLS 1.2
    protected alert (type 21) or a TLS 1.3 protected record of an alert's size."""
    last = split_records(out, whole=False)[-1:]
    if not last:
        return False
    rec = last[0]
    if rec[0] == ALERT:
        return len(rec) != 7 or rec[5:] == bytes((2, alert))
    return rec[:5] == PROTECTED_ALERT13


def survive(conn: Any, chunks: Iterable[bytes], *, alert_queued: bool = True
            ) -> TLSError | None:
    """Feed ``chunks``; returns the `TLSError` they caused (None if none, or if the peer's
    alert ended the connection). With ``alert_queued`` the failure must have queued an
    alert for the peer; without, an empty output is accepted too (a connection that had
    already sent its close)."""
    try:
        for chunk in chunks:
            conn.receive_data(chunk)
    except AlertReceived:
        return None
    except TLSError as exc:
        assert exc.alert != AlertDescription.internal_error, \
            f"{exc!r} caused by {exc.__cause__!r}"
        out = conn.data_to_send()
        if out or alert_queued:
            assert ends_with_alert(out, exc.alert), f"no alert queued: {out[-30:].hex()}"
        try:
            conn.receive_data(b"\x16")
        except TLSError as again:
            assert again is exc, f"a second error: {again!r} after {exc!r}"
        else:
            raise AssertionError("a failed connection accepted more input") from None
        return exc
    return None
