"""The public sans-I/O API: bytes in, events out, bytes to send.

    conn.receive_data(data) -> [events]   conn.data_to_send() -> bytes
    conn.send_data(data)                  conn.close()

A connection owns a `RecordLayer` and a handshake state machine (TLS 1.3, handing over
to TLS 1.2 when the peer cannot do 1.3). Any `TLSError` raised while processing peer input
queues the matching alert, closes the connection and is re-raised; every later call raises
the same error. A peer that ends the connection is an event: `ConnectionClosed(None)` for
close_notify, `ConnectionClosed(alert)` for a fatal alert (later calls then raise
`AlertReceived`). Any other exception from inside is a bug and is reported as an
internal_error `TLSError`, never leaked.
"""

from __future__ import annotations

import contextlib
import weakref
from typing import TYPE_CHECKING, cast

from .channelbinding import EXPORTER_LABEL, EXPORTER_LENGTH, check_type, tls_server_end_point
from .config import ClientConfig, ServerConfig, require_config
from .crypto import Suite
from .enums import AlertDescription, AlertLevel, ContentType, ProtocolVersion
from .errors import (
    AlertReceived,
    DecodeError,
    InternalError,
    NotTLSError,
    TLSError,
    UnexpectedMessage,
    UsageError,
)
from .events import ConnectionClosed, DataReceived, Event, HandshakeComplete
from .handshake.client13 import ClientHandshake13
from .handshake.common import Handshake
from .handshake.server13 import ServerHandshake13
from .record import (
    HELD,
    INTO_BUFFER_REFUSED,
    KEY_UPDATE_ROOM,
    MAX_PLAINTEXT,
    RECORD_OVERHEAD,
    Opener13,
    RecordLayer,
    Sealer13,
)
from .session import Session

MAX_WARNING_ALERTS = 16
_HANDSHAKE = ContentType.handshake
_APPDATA = ContentType.application_data
_ALERT = ContentType.alert
_CCS = ContentType.change_cipher_spec
_TLS12 = ProtocolVersion.TLSv1_2
_TLS13 = ProtocolVersion.TLSv1_3
# The methods an established connection's protectors stand in for (`_bind_fast_paths`).
_SEND_NAMES = ("send_data", "send_data_into")
_RECEIVE_NAMES = ("receive_data", "receive_data_into")



def _bytes_like(data: object, what: str) -> None:
    """The TypeError `ssl` gives for text or other objects passed as data (the general
    paths check; the one-record fast paths only take `bytes` or byte views anyway)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"{what} takes bytes, bytearray or memoryview, not "
                        f"{type(data).__name__}"
                        + (" (encode text first, e.g. text.encode())"
                           if isinstance(data, str) else ""))

class HandshakeOutput:
    """The connection's side of `handshake.common.Output`: applies what a handshake
    asks for to the record layer and the event list, through their public methods. It
    holds no reference back to the connection or the handshake (no reference cycle)."""

    __slots__ = ("_events", "_records", "_write_closed")

    def __init__(self, records: RecordLayer, events: list[Event]) -> None:
        self._records = records
        self._events = events
        self._write_closed = False

    def close_write(self) -> None:
        """Our close_notify (or fatal alert) is out: RFC 8446 6.1, nothing follows it. What
        a handshake still sends (a KeyUpdate answer, a post-handshake Certificate) is
        dropped; its read side goes on."""
        self._write_closed = True

    def send_handshake(self, data: bytes) -> None:
        if not self._write_closed:
            self._records.write(_HANDSHAKE, data)

    def send_change_cipher_spec(self) -> None:
        if not self._write_closed:
            self._records.write_unprotected(_CCS, b"\x01")

    def send_warning(self, description: AlertDescription) -> None:
        if not self._write_closed:
            self._records.write(_ALERT, bytes((AlertLevel.warning, description)))

    # The record layer holds each direction's traffic secret (as Go does): the handshake
    # hands it over and forgets it; KeyUpdate derives the next one where it is kept.
    def install_read(self, suite: Suite, secret: bytes) -> None:
        self._records.install_read(suite, secret)

    def install_write(self, suite: Suite, secret: bytes) -> None:
        self._records.install_write(suite, secret)

    def next_read_generation(self) -> None:
        self._records.update_read()

    def next_write_generation(self) -> None:
        self._records.update_write()

    def clear_write(self) -> None:
        self._records.clear_write_key()

    def send_application_data(self, data: bytes) -> None:
        if not self._write_closed:
            self._records.write(_APPDATA, data)

    def install_read12(self, suite: Suite, key: bytes, iv: bytes) -> None:
        self._records.set_read_key12(suite, key, iv)

    def install_write12(self, suite: Suite, key: bytes, iv: bytes) -> None:
        self._records.set_write_key12(suite, key, iv)

    def written_under_current_key(self) -> bool:
        return self._records.write_sequence != 0

    def set_record_limits(self, send: int | None = None, receive: int | None = None) -> None:
        if send is not None:
            self._records.send_limit = send
        if receive is not None:
            self._records.receive_limit = receive

    def skip_early_data(self, limit: int) -> None:
        self._records.early_data_skip = limit

    def set_hello_record_version(self, version: int) -> None:
        self._records.legacy_version_out = version

    def expect_tls12(self) -> None:
        self._records.expect_tls12()

    def emit(self, event: Event) -> None:
        self._events.append(event)


class Connection:
    """Shared machinery; use `ClientConnection` or `ServerConnection`."""

    _hs: Handshake

    def __init__(self) -> None:
        self._records = RecordLayer()
        # A pure delegation, bound per instance to save a call on the bulk path.
        self.data_to_send = self._records.take_output  # type: ignore[method-assign]
        self._events: list[Event] = []
        self._out = HandshakeOutput(self._records, self._events)
        self._error: TLSError | None = None
        self._sent_close = False
        self._received_close = False
        self.handshake_complete: HandshakeComplete | None = None
        # Set once the handshake is done and cleared by close or error (and, for reading,
        # while a handshake message is half received): they let the application-data
        # paths skip the per-call state checks (see the properties below).
        self._send_ok = False
        self._receive_ok = False
        self._warnings = 0
        self.close_reply = True  # see ClientConfig.close_reply; adapters may turn it off

    # -- the bulk paths ---------------------------------------------------------------------

    @property
    def _fast_send(self) -> bool:
        return self._send_ok

    @_fast_send.setter
    def _fast_send(self, value: bool) -> None:
        self._send_ok = value
        self._bind(self._records.sealer, value, _SEND_NAMES)

    @property
    def _fast_receive(self) -> bool:
        return self._receive_ok

    @_fast_receive.setter
    def _fast_receive(self, value: bool) -> None:
        self._receive_ok = value
        self._bind(self._records.opener, value, _RECEIVE_NAMES)

    def _bind_fast_paths(self) -> None:
        """While established, `send_data`/`receive_data` and the zero-copy pair are the
        current TLS 1.3 protectors' one-record methods (`Sealer13.send_data`/`send_into`,
        `Opener13.receive_data`/`receive_into`: one Python call per record), which hand
        anything else back to this class's methods. Called whenever the flags or the keys
        change; the flags are also each protector's `bulk`, so a method a caller kept
        declines once the connection closed, failed or changed keys."""
        records = self._records
        self._bind(records.sealer, self._send_ok, _SEND_NAMES)
        self._bind(records.opener, self._receive_ok, _RECEIVE_NAMES)

    def _bind(self, protector: object, ok: bool, names: tuple[str, str]) -> None:
        attrs = self.__dict__
        if isinstance(protector, (Sealer13, Opener13)):
            if ok:
                if protector.bulk:
                    return  # already bound: `bulk` is only set here, with the methods
                protector.bulk = True
                if protector.owner is None:
                    protector.owner = weakref.ref(self)
                if isinstance(protector, Sealer13):
                    attrs[names[0]] = protector.send_data
                    attrs[names[1]] = protector.send_into
                else:
                    attrs[names[0]] = protector.receive_data
                    attrs[names[1]] = protector.receive_into
                return
            protector.bulk = False
        if names[0] in attrs:  # a replaced protector's methods go with the flag
            del attrs[names[0]], attrs[names[1]]

    # -- input ----------------------------------------------------------------------------

    def receive_data(self, data: bytes | bytearray | memoryview) -> list[Event]:
        """Feed bytes from the peer; returns the events they complete, in order."""
        if self._receive_ok and (type(data) is bytes or (
                type(data) is memoryview and data.format == "B" and data.ndim == 1
                and data.c_contiguous)):
            # Whole application-data records decrypted straight from `data` by the read
            # protector; anything else (alerts, KeyUpdate, partial records, errors) goes
            # the long way, a record it opened and held (`opened`) first. Nothing keeps a
            # view of `data` (the rest is copied in), so a caller may reuse its buffer.
            opener = self._records.opener
            plaintexts, used = opener.open_app(data)  # type: ignore[union-attr]
            if used == len(data) and opener.opened is None:  # type: ignore[union-attr]
                if len(plaintexts) == 1:  # one record: the bulk case, spared a map()
                    return [DataReceived(plaintexts[0])]
                return list(map(DataReceived, plaintexts))
            self._events += map(DataReceived, plaintexts)
            data = data[used:]
        return self._receive(data, None, 0)[1]

    def receive_data_into(self, data: bytes | bytearray | memoryview,
                          buffer: bytearray | memoryview) -> tuple[int, list[Event]]:
        """`receive_data` without copies: application data is decrypted straight into
        `buffer` instead of coming back as `DataReceived` events.

        Returns (n, events): `buffer[:n]` holds the data, which arrived before the events
        returned (events are the other `receive_data` events, in order). The call stops
        after a record that produced events and before a record whose plaintext might not
        fit in what is left of `buffer`; while `receive_pending` is true, call again (with
        b"") for the rest. Every check, alert and error is the same as `receive_data`'s
        (on an error nothing in `buffer` counts). `buffer` must be writable unsigned bytes
        (a bytearray or a view of one), hold at least 16 KiB (one record's content;
        16 KiB + 1 lets a full record be decrypted in place) and not overlap `data`.
        """
        out = buffer if type(buffer) is memoryview else memoryview(buffer)
        if len(out) < MAX_PLAINTEXT or out.readonly or out.format != "B":
            # (`cryptography` decrypts into unsigned bytes only: a signed-byte or ctypes
            # buffer refused here, not as an internal error mid-record)
            raise UsageError(INTO_BUFFER_REFUSED)
        if self._receive_ok:
            # Whole application-data records decrypted from `data` into `out` by the read
            # protector; anything else goes the long way, after what was written (a
            # record it opened and held first).
            opener = self._records.opener
            written, used = opener.open_records_into(data, out)  # type: ignore[union-attr]
            if used == len(data) and opener.opened is None:  # type: ignore[union-attr]
                return written, []
            data = memoryview(data)[used:]
        else:
            written = 0
        return self._receive(data, out, written)

    @property
    def receive_pending(self) -> bool:
        """`receive_data_into` stopped early (buffer full, or events to report first)
        and complete records wait: call it again with b"" to get them."""
        return (self._error is None and not self._received_close
                and self._records.record_waiting)

    def _receive(self, data: bytes | bytearray | memoryview, out: memoryview | None,
                 written: int) -> tuple[int, list[Event]]:
        """The general path of `receive_data` (`out` None) and `receive_data_into`."""
        _bytes_like(data, "receive_data")
        records = self._records
        events = self._events
        if self._error is not None or self._received_close:
            if events:  # held by `receive_held` (the end among them): they come first
                result = events[:]
                events.clear()
                return written, result
            if self._error is not None:
                self._error.raise_again()
            return 0, []
        hs = self._hs
        records.feed(data)
        try:
            while True:
                if out is not None and events:
                    break  # the events go back before any later data
                record = records.next_record_into(out, written)
                if record is None:
                    break
                ctype, payload = record
                if ctype == _APPDATA:
                    if not hs.complete or hs.partial_message:
                        if not hs.partial_message and hs.receive_early_data(bytes(payload)):
                            continue
                        raise UnexpectedMessage("application data during the handshake")
                    if not payload:
                        continue
                    if out is None:
                        events.append(DataReceived(payload))  # type: ignore[arg-type]
                    else:
                        size = len(payload)
                        if type(payload) is not memoryview:  # not decrypted in place
                            out[written:written + size] = payload
                        written += size
                    continue
                if TYPE_CHECKING:  # (no call at run time: this is per record)
                    payload = cast(bytes, payload)  # only application data comes as a view
                if ctype == _HANDSHAKE:
                    try:
                        hs.receive_record(payload)
                    finally:
                        if hs.successor is not None:
                            hs = self._adopt_successor()
                    if self.handshake_complete is None and hs.complete:
                        self._note_handshake_done()  # (the check written out: per record)
                elif hs.partial_message and (ctype != _ALERT or self._settled13()):
                    # RFC 8446 5.1: nothing between handshake fragments in TLS 1.3; RFC
                    # 5246 6.2.1 lets other types interleave: an alert is read (a CCS
                    # meets the message-boundary check, application data the handshake's).
                    raise UnexpectedMessage("record interleaved with a fragmented message")
                elif ctype == _ALERT:
                    self._receive_alert(payload)
                    if self._received_close:
                        break  # nothing after a close_notify or a fatal alert counts
                else:
                    hs.receive_ccs(payload)
        except TLSError as exc:
            events.clear()
            if type(exc) is NotTLSError and hs.suite is None:
                exc.at_start()  # (a library user sees what the CLI and compat layer say)
            self._fail(exc)
            raise
        except Exception as exc:  # a bug, reported as a TLS internal_error
            events.clear()
            err = InternalError(f"internal error: {type(exc).__name__}: {exc}")
            self._fail(err)
            raise err from exc
        # The bulk shortcut only once established, and never while a handshake message
        # (5.1) or a record is half received. (Off and staying off: nothing to unbind.)
        ok = (self.handshake_complete is not None and not hs.partial_message
              and not self._received_close and self._error is None and not records.buffered)
        if ok or self._receive_ok:
            self._fast_receive = ok
        result = events[:]
        events.clear()
        return written, result

    def receive_held(self, data: bytes) -> None:
        """`receive_data` for bytes an `tlskit.Acceptor` read before this connection
        existed: its events wait for the next receive call (which returns them first)."""
        self._events += self.receive_data(data)

    def _adopt_successor(self) -> Handshake:
        """The one place the connection moves to the TLS 1.2 handshake that took over
        (also when that handshake failed at once, so the alert and state are its own)."""
        hs = self._hs
        while hs.successor is not None:
            hs = self._hs = hs.successor
        return hs

    def receive_record_into(self, record: bytes | bytearray | memoryview,
                            buffer: memoryview) -> int:
        """The socket adapter's read: `record` being exactly one application-data record
        of an established connection, decrypt its content into `buffer` and return its
        length. -1 when it is anything else or does not fit (content plus the type byte):
        then nothing was consumed and the caller passes the bytes to `receive_data`.
        `HELD` (-2) when it was a protected record that opened to something else (a
        handshake message, an alert, padded data): it is consumed, nothing is left in
        `buffer`, and the caller gets its events from `receive_data(b"")` (every receive
        call takes the general path until then, which reads that plaintext: a record is
        never decrypted twice)."""
        if not self._receive_ok:
            return -1
        got = self._records.open_app_into(record, buffer)
        if got == HELD:
            self._fast_receive = False  # nothing may overtake the held record
        return got

    def _note_handshake_done(self) -> None:
        if self.handshake_complete is None and self._hs.complete:
            for ev in self._events:
                if isinstance(ev, HandshakeComplete):
                    self.handshake_complete = ev
            self._fast_send = not self._sent_close

    def _receive_alert(self, payload: bytes) -> None:
        if len(payload) != 2:
            raise DecodeError("alert record must be exactly two bytes")
        level, desc = payload[0], AlertDescription(payload[1])
        if level not in (AlertLevel.warning, AlertLevel.fatal):
            raise IllegalAlertLevel(f"alert level {level}")
        if desc == AlertDescription.close_notify:
            self._received_close = True
            self._fast_receive = False
            self._events.append(ConnectionClosed(None))
            if not self._sent_close and (self.close_reply or self._hs.protocol is _TLS12):
                self._send_alert(AlertDescription.close_notify)
                self._sent_close = True
                self._fast_send = False
            return
        if (desc == AlertDescription.user_canceled if self._settled13()
                else level == AlertLevel.warning):
            # 6.1: in TLS 1.3 user_canceled (whatever its level) is followed by
            # close_notify. RFC 5246 7.2: a 1.2 warning (e.g. no_renegotiation) does not
            # end a session, but a fatal alert does, user_canceled too. Until the version
            # is settled levels are read as 1.2 does (a 1.2 server may send a warning
            # unrecognized_name before its ServerHello), as OpenSSL, BoringSSL and Go do.
            # A flood of warnings ends the connection.
            self._warnings += 1
            if self._warnings > MAX_WARNING_ALERTS:
                raise UnexpectedMessage(f"more than {MAX_WARNING_ALERTS} warning alerts")
            return
        # 6: every other alert is fatal in TLS 1.3, whatever its level says. The peer ended
        # the connection: report it as an event (nothing is sent back); any later call
        # raises AlertReceived.
        self._events.append(ConnectionClosed(desc))
        self._fail(AlertReceived(desc))
        self._received_close = True

    def _settled13(self) -> bool:
        """TLS 1.3 is the version (its ServerHello sent or read). Until the version is
        settled, alerts are read as TLS 1.2 reads them (OpenSSL, BoringSSL and Go too)."""
        hs = self._hs
        return hs.protocol is _TLS13 and hs.suite is not None

    def _fail(self, exc: TLSError) -> None:
        self._error = exc
        self._records.take_input()  # nothing after a fatal error is ever processed
        self._fast_send = self._fast_receive = False
        if not isinstance(exc, AlertReceived) and not self._sent_close:
            with contextlib.suppress(Exception):  # the alert is best effort
                self._send_alert(exc.alert)
        self._sent_close = True

    def _send_alert(self, desc: AlertDescription) -> None:
        """close_notify or a fatal alert: the last record we send."""
        self._hs.flush()
        self._records.write(_ALERT, bytes((AlertLevel.fatal if desc else AlertLevel.warning,
                                           desc)))
        self._out.close_write()

    # -- output ---------------------------------------------------------------------------

    def data_to_send(self) -> bytes:
        """Everything queued for the peer; b"" when nothing is pending."""
        return self._records.take_output()  # (each instance binds this directly: see init)

    def send_data(self, data: bytes | bytearray | memoryview) -> None:
        """Encrypt application data (split into records of at most 16 KiB)."""
        if self._send_ok and type(data) is bytes and \
                self._records.sealer.send_app(data):  # type: ignore[union-attr]
            return  # the bulk case: one record sealed by the write protector
        _bytes_like(data, "send_data")
        if self._error is not None:
            self._error.raise_again()
        if self._sent_close:  # (in TLS 1.2 also once the peer closed: it is answered)
            raise UsageError("the connection is closed for sending")
        if not self._hs.complete:
            raise UsageError("the handshake is not complete")
        records = self._records
        if records.rekey_due:  # 5.5: TLS 1.3 only
            self.update_keys(request_peer_update=False)
        records.write(_APPDATA, data)

    def send_data_into(self, data: bytes | bytearray | memoryview,
                       buffer: bytearray | memoryview) -> int:
        """`send_data` without copies: seal `data` straight into `buffer` (each record's
        header written once before its ciphertext) and return the bytes written, which
        are what `data_to_send()` would have returned (anything queued before, such as a
        KeyUpdate, comes first). `buffer` must be writable and hold
        `send_buffer_size(len(data))` bytes, or UsageError is raised and nothing is sent;
        it must not overlap `data`."""
        out = buffer if type(buffer) is memoryview else memoryview(buffer)
        if self._send_ok and not out.readonly and out.itemsize == 1:
            written = self._records.sealer.seal_app_into(data, out)  # type: ignore[union-attr]
            if written >= 0:
                return written
        if out.readonly or out.itemsize != 1 or len(out) < self.send_buffer_size(len(data)):
            raise UsageError(f"send_data_into needs a writable byte buffer of "
                             f"{self.send_buffer_size(len(data))} bytes")
        self.send_data(data)
        wire = self._records.take_output()
        out[:len(wire)] = wire
        self._bind_fast_paths()  # a KeyUpdate may have come first: bind the new protector
        return len(wire)

    def send_buffer_size(self, size: int) -> int:
        """The buffer `send_data_into` needs for `size` bytes of data: the records'
        headers, tags and type bytes (or explicit nonces), a possible KeyUpdate and
        whatever is already queued for the peer."""
        records = -(-size // self.max_fragment) or 1
        return size + records * RECORD_OVERHEAD + KEY_UPDATE_ROOM + \
            self._records.pending_output

    def update_keys(self, request_peer_update: bool = True) -> None:
        """Send a KeyUpdate (4.6.3); the peer answers with its own if asked. Send data
        between them: BoringSSL, rustls and tlskit end the connection at the 33rd
        KeyUpdate in a row (`record.MAX_KEY_UPDATES`)."""
        if not self._hs.complete or self._sent_close:
            raise UsageError("keys can only be updated on an open connection")
        self._hs.send_key_update(request_peer_update)
        self._bind_fast_paths()  # the new write protector

    def close(self) -> None:
        """Send close_notify, the last record we send (RFC 8446 6.1: a KeyUpdate request
        or post-handshake CertificateRequest read afterwards is not answered). Idempotent."""
        if self._sent_close or self._error is not None:
            return
        self._sent_close = True
        self._fast_send = False
        self._send_alert(AlertDescription.close_notify)

    # -- information ------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """Both ways are done: we sent close_notify, and the peer sent its own or the
        connection failed (nothing more will be read or written)."""
        return self._sent_close and (self._received_close or self._error is not None)

    @property
    def negotiated_suite(self) -> Suite | None:
        """The cipher suite the handshake agreed, once the server chose it; else None."""
        return self._hs.suite

    @property
    def max_fragment(self) -> int:
        """The most plaintext one record we send may carry: 16384, or less once the peer
        asked for less (record_size_limit, RFC 8449, or max_fragment_length, RFC 6066)."""
        return min(self._records.send_limit, MAX_PLAINTEXT)

    def export_keying_material(self, label: bytes, context: bytes, length: int) -> bytes:
        """RFC 8446 7.5 exporter (e.g. for channel binding, RFC 9266)."""
        hs = self._hs
        if not hs.complete or hs.suite is None:
            raise UsageError("exporters need a completed handshake")
        return hs.export(label, context, length)

    @property
    def tls_unique(self) -> bytes | None:
        """RFC 5929's tls-unique channel binding (the handshake's first Finished), for
        TLS 1.2 with the extended master secret; None before the handshake completes, for
        TLS 1.3 (which has none: use `export_keying_material`, RFC 9266's tls-exporter)
        and for TLS 1.2 without the extended master secret, where it can be made the same
        on two connections (RFC 7627 1), which `ssl` would still report."""
        return self._hs.tls_unique()

    def channel_binding(self, cb_type: str = "tls-exporter") -> bytes:
        """The channel binding of this connection (`tlskit.channelbinding`): "tls-exporter"
        (RFC 9266, the default: TLS 1.3, or TLS 1.2 with the extended master secret),
        "tls-server-end-point" (RFC 5929 4.1: a hash of the server's certificate; the
        client hashes the one it received, the server its own) or "tls-unique" (RFC 5929
        3.1: TLS 1.2 with the extended master secret only). An unknown type is a
        ValueError naming the known ones; a binding this connection does not define (no
        handshake yet, the wrong version, no EMS, no certificate, a certificate algorithm
        without a single hash) is a `UsageError` saying why: never a value that would
        bind nothing."""
        check_type(cb_type)
        hs = self._hs
        if not hs.complete or hs.suite is None:
            raise UsageError(f"{cb_type}: channel bindings need a completed handshake")
        tls12 = hs.protocol is not _TLS13
        if cb_type == "tls-exporter":
            # RFC 9266 4.2 (RFC 7627 1): in TLS 1.2 only with the extended master secret.
            if tls12 and not getattr(hs, "ems", False):
                raise UsageError("tls-exporter: this TLS 1.2 connection did not negotiate "
                                 "the extended master secret, without which RFC 9266 4.2 "
                                 "does not allow it (two connections could share the value, "
                                 "RFC 7627 1); require_extended_master_secret=True avoids it")
            # RFC 9266 2: the context is the zero-length string, a context given (in TLS
            # 1.2, RFC 5705 4 then hashes its length, 0, into the seed; TLS 1.3 makes
            # none and an empty one the same, RFC 8446 7.5). The stacks that name this
            # binding do so: GnuTLS (gnutls_session_channel_binding), Bouncy Castle
            # (ExportChannelBinding), Prosody and Ruby over OpenSSL (context "").
            return hs.export(EXPORTER_LABEL, b"", EXPORTER_LENGTH)
        if cb_type == "tls-unique":
            value = hs.tls_unique()
            if value is None:
                raise UsageError(
                    "tls-unique is undefined here: TLS 1.3 has none (RFC 9266 1; use "
                    "tls-exporter)" if not tls12 else
                    "tls-unique: this TLS 1.2 connection did not negotiate the extended "
                    "master secret, without which two connections can share it (RFC 7627 "
                    "1); use require_extended_master_secret=True")
            return value
        return self._server_end_point()

    def _server_end_point(self) -> bytes:
        """tls-server-end-point (RFC 5929 4.1): each side says of which certificate
        (`ClientConnection`, `ServerConnection`)."""
        raise NotImplementedError

    @property
    def version(self) -> str | None:
        """"TLSv1.3" or "TLSv1.2" once the ServerHello settled it."""
        return self._hs.version if self._hs.suite is not None else None

    def take_unprocessed(self) -> bytes:
        """Bytes received but not yet processed (after close_notify, for unwrap())."""
        return self._records.take_input()


class IllegalAlertLevel(TLSError):
    """An alert whose level is neither warning nor fatal (RFC 8446 6, RFC 5246 7.2)."""

    default_alert = AlertDescription.illegal_parameter


class ClientConnection(Connection):
    """A TLS 1.3 and 1.2 client (as its config allows); the ClientHello is queued as soon
    as it is created.

    ``early_data`` (0-RTT, RFC 8446 2.3): bytes for the server before the handshake
    completes. They go in the first flight only when resuming a session this client may
    resume whose ticket allows early data of that size (`early_data_sent`); the server
    may still decline them (`HandshakeComplete.early_data_accepted` is False). Either
    way the bytes reach the server exactly once: when they were not sent or not accepted,
    the connection sends them again as ordinary application data right after its
    Finished, before anything passed to `send_data`. 0-RTT data can be replayed by an
    attacker; only send what is safe to act on twice (e.g. an idempotent request).
    """

    def __init__(self, config: ClientConfig | None = None, server_name: str | None = None,
                 session: Session | None = None, early_data: bytes = b"") -> None:
        super().__init__()
        self.config = ClientConfig() if config is None else config
        require_config(self.config, ClientConfig, "ClientConnection")
        if server_name is None and self.config.check_hostname and \
                self.config.verify_mode == "required" and not self.config.external_psks:
            # (with external PSKs the handshake refuses a certificate it cannot check:
            # `ClientHandshake13.refuse_unnamed_certificate`)
            # Secure by default: without a name the certificate proves nothing about
            # which server this is (the ssl module refuses this too).
            raise UsageError("server_name is required to check the server's certificate; "
                             "pass ClientConfig(check_hostname=False) to skip the name check")
        if server_name == "":
            raise UsageError("server_name is empty: give the host name (or IP address) "
                             "being dialled, or None")
        self.close_reply = self.config.close_reply
        self._hs = hs = ClientHandshake13(self.config, self._out, server_name, session,
                                          bytes(early_data))
        hs.start()
        self._early_data_sent = hs.early_data_sent

    def _server_end_point(self) -> bytes:
        hc = self.handshake_complete  # (a resumed session's: the one it remembered)
        if hc is None or not hc.peer_certificates:
            raise UsageError("tls-server-end-point: the server authenticated with no "
                             "certificate (a PSK or a raw public key); use tls-exporter "
                             "(RFC 9266)")
        return tls_server_end_point(hc.peer_certificates[0])

    @property
    def early_data_sent(self) -> bool:
        """Whether `early_data` went out as 0-RTT data (see the class docstring)."""
        return self._early_data_sent

    @property
    def verification_error(self) -> TLSError | None:
        """With verify_mode="report": the certificate failure that was let through."""
        return getattr(self._hs, "verification_error", None)


class ServerConnection(Connection):
    """A TLS 1.3 and 1.2 server (as its config allows); waits for a ClientHello."""

    def __init__(self, config: ServerConfig) -> None:
        super().__init__()
        require_config(config, ServerConfig, "ServerConnection")
        self.config = config
        self.close_reply = config.close_reply
        self._hs = ServerHandshake13(config, self._out)

    def request_client_certificate(self) -> None:
        """TLS 1.3 post-handshake client authentication (RFC 8446 4.6.2): ask the client
        for a certificate now. Needs a completed TLS 1.3 handshake whose client offered
        post_handshake_auth, and ``ServerConfig.client_trust_anchors`` (or
        ``client_verifier``). The verified chain arrives as `ClientCertificateReceived`
        (empty if the client declined); a chain that fails validation ends the connection
        with the matching alert, as in the handshake."""
        if self._error is not None:
            self._error.raise_again()
        if self._sent_close or self._hs.protocol is not _TLS13:
            raise UsageError("post-handshake authentication needs an open TLS 1.3 connection")
        request = getattr(self._hs, "request_client_certificate", None)
        if request is None:
            raise UsageError("post-handshake authentication needs a TLS 1.3 server")
        request()

    def send_session_ticket(self, early_data: bool | None = None) -> bool:
        """Queue one more TLS 1.3 NewSessionTicket (RFC 8446 4.6.1) for `data_to_send()`,
        as OpenSSL's SSL_new_session_ticket: e.g. once the application has authenticated
        the user, or after `request_client_certificate`, so that the ticket carries the
        client certificate then verified (a session resumed from it reports that chain).
        With ``ServerConfig.automatic_tickets=False`` these are the only tickets sent.
        ``early_data``: whether the ticket allows 0-RTT; None (the default) as the config
        (``max_early_data_size`` > 0), True only if the config has 0-RTT on. Nonces go on
        after the automatic tickets' (unique per connection, one byte: 256 tickets at
        most). Refused (`UsageError`) for TLS 1.2, before the handshake completes, after
        close, with ``session_tickets=0`` (the server resumes no ticket) and past 256
        tickets; after a failure it raises that failure again. Returns whether a ticket
        was queued: False when the session store cannot be reached."""
        if self._error is not None:
            self._error.raise_again()
        if self._sent_close:
            raise UsageError("send_session_ticket: the connection is closed (our "
                             "close_notify is out: close() was called or the peer's "
                             "close_notify answered), so nothing more is sent")
        hs = self._hs
        if hs.protocol is not _TLS13:  # (set when the hello chose 1.2: `successor`)
            raise UsageError("send_session_ticket: this connection is TLS 1.2, whose "
                             "server sends its one ticket in the handshake (RFC 5077 3.3); "
                             "on-demand tickets are TLS 1.3's (RFC 8446 4.6.1)")
        queued: bool = hs.send_session_ticket(early_data)  # type: ignore[attr-defined]
        return queued

    def _server_end_point(self) -> bytes:
        """Of our own leaf: the one this handshake sent or, on a resumed connection
        (which sends none), the one the session's handshake sent, as the session
        recorded it; a rotated certificate does not change a session's binding, which
        is the one its client remembered (RFC 5929 4.1)."""
        certified = getattr(self._hs, "certified", None)
        if certified is not None:
            if not certified.chain:
                raise UsageError("tls-server-end-point: this connection authenticated us "
                                 "with a raw public key (RFC 7250), no certificate; use "
                                 "tls-exporter (RFC 9266)")
            return tls_server_end_point(certified.chain[0])
        hc = self.handshake_complete
        end_point: bytes | None = b""
        if hc is not None and hc.resumed and hc.external_psk_identity is None:
            end_point = getattr(self._hs, "session_end_point", b"")
        if end_point is None:
            raise UsageError("tls-server-end-point: this connection resumed a session "
                             "sealed by a tlskit from before sessions recorded their "
                             "certificate, and the config has several certificates, so "
                             "which one it was made with is not known; use tls-exporter "
                             "(RFC 9266)")
        if not end_point:
            raise UsageError("tls-server-end-point: this connection sent no certificate "
                             "and resumed no session made with one (an external PSK, a "
                             "raw public key, or a certificate whose signature algorithm "
                             "RFC 5929 gives no hash); use tls-exporter (RFC 9266)")
        return end_point

    @property
    def client_offer(self) -> dict[str, object]:
        """What the client offered in its ClientHello (suites, groups, extensions...), by
        IANA name, a new dict at each call. Once the hello is answered the connection
        keeps only its bytes (a hello may list ~32,000 codes, each a Python int of ~36
        bytes decoded), and each call names them again: keep the dict if you need it
        more than once."""
        offer: dict[str, object] = getattr(self._hs, "client_offer", {})
        return offer
