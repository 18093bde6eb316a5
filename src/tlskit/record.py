"""The record layer (RFC 8446 section 5): framing, protection, padding, size limits.

Protection is one small object per direction and version, chosen when keys are installed:
`Sealer13`/`Opener13` (RFC 8446 5.2-5.4) and `Sealer12`/`Opener12` (RFC 5246 6.2.3.3 with
RFC 5288/7905 nonces). Each owns its AEAD, static IV, sequence number and limits; the TLS
1.3 ones also own the traffic secret, so a KeyUpdate is `next_generation()` (as Go keeps
the secret in its half-connection). The nonce is built in one method per version (the
one-record bulk methods write the same expression inline, to save a call per record).

Incoming bytes accumulate in one bytearray; complete records are cut out with a
precompiled header struct and decrypted straight from a memoryview (or, for the zero-copy
read, into the caller's buffer). Outgoing records are queued as finished byte strings
(header, ciphertext) and joined once by `take_output`: `cryptography`'s `encrypt()` on
`bytes` is its fastest form; the zero-copy write seals into the caller's buffer instead.
For established connections the TLS 1.3 protectors' `send_data`/`receive_data`/
`send_into`/`receive_into` stand in for the connection's methods (one record per call),
and `open_app`/`open_records_into`/`seal_app_into` take runs of whole records, all with
every check of the general path, which they hand everything else to: a record they opened
but do not handle goes on as its plaintext (`Opener13.opened`), never to be decrypted
again, and `RecordLayer._opened` is the one place inner plaintext is read. (One
comparison with `fast_until` checks "bulk allowed", the KeyUpdate or wrap limit and a
size limit at the maximum per record: a lowered limit is the general paths' business.)
A TLS 1.3 direction installed from its secret derives its key and IV at its first record:
a handshake pair installs eight and, without data or tickets, uses four.
"""

from __future__ import annotations

import struct
import weakref
from collections.abc import Callable
from typing import Any, Self

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESCCM, AESGCM, ChaCha20Poly1305

from .crypto import Suite
from .enums import ContentType
from .errors import (
    BadRecordMac,
    DecodeError,
    NotTLSError,
    ProtocolVersionError,
    RecordOverflow,
    TLSError,
    UnexpectedMessage,
    UsageError,
)
from .events import DataReceived
from .keyschedule import key_and_iv, next_traffic_secret

AEAD = AESGCM | ChaCha20Poly1305 | AESCCM
HEADER = struct.Struct(">BHH")
# A record header read as (type << 8 | major version byte, length): one unpack and one
# tuple comparison check an application-data record's header on the one-record paths.
_APP_HEAD = struct.Struct(">HxH")
_APP_MAJOR = 0x1703
_SEQ_HEADER = struct.Struct(">QBHH")  # TLS 1.2 AAD: seq_num || type || version || length
MAX_PLAINTEXT = 1 << 14
MAX_CIPHERTEXT = MAX_PLAINTEXT + 256
TAG_LENGTH = 16
_CT_CCS = ContentType.change_cipher_spec
_CT_ALERT = ContentType.alert
_CT_HANDSHAKE = ContentType.handshake
_CT_APP = ContentType.application_data
_APP = 23  # the int, for the hot paths (IntEnum comparisons cost more)
_LEGACY_VERSION = 0x0303
_KNOWN_TYPES = frozenset((20, 21, 22, 23))
_HANDSHAKE_OR_ALERT = frozenset((21, 22))
_TYPE_BYTE = {t: bytes((t,)) for t in range(256)}
_SEQ_LIMIT = (1 << 64) - 1
_SKIPPED = object()  # a declined early-data record was dropped
# `open_app_into`'s answer for a record it opened and consumed but does not handle (not
# application data, padded, or failing its tag): the opener holds its plaintext
# (`Opener13.opened`) for the general path, which `receive_data(b"")` runs.
HELD = -2
# `Opener13.opened` for a record a fast path found unauthentic: an authentic record there
# is never empty (the fast paths take only records with a type byte), and once a
# connection is established a failed tag is always fatal (no early data is skipped).
FORGED = b""

# RFC 8446 5.5: rekey well before the AEAD confidentiality limits (2^24.5 for AES-GCM).
KEY_UPDATE_AFTER_RECORDS = 1 << 24
# Neither RFC bounds how many empty application-data records (TLS 1.2, or TLS 1.3 records
# whose content is empty once the padding is gone) or KeyUpdates a peer may send in a
# row, and each costs us a decryption (a KeyUpdate a key derivation too) while nothing
# reaches the application. The caps are the mainstream stacks': OpenSSL
# (MAX_EMPTY_RECORDS) and BoringSSL (kMaxEmptyRecords) end the connection with
# unexpected_message at the 33rd empty record in a row, any other record starting the
# count again. BoringSSL (kMaxKeyUpdates, "consecutive KeyUpdates") does the same at the
# 33rd KeyUpdate without application data between them, and rustls copies that number
# (TrafficTemperCounters: 32 KeyUpdates, the count restarted by application data). Why 32
# and not less: it is what those stacks allow, so a peer that works with them (tlskit's
# own never sends two KeyUpdates without data between them unless its application asks)
# never trips ours, and 32 is still a few microseconds of work per record we are fed. Go
# is stricter on empty records (16 "non-advancing" records, warning alerts counted with
# them) and has no KeyUpdate cap that a one-per-record run reaches (a handshake record
# resets its count).
MAX_EMPTY_RECORDS = 32
MAX_KEY_UPDATES = 32
# What one record adds to its content at most: header, TLS 1.2 explicit nonce or TLS 1.3
# type byte, tag (the zero-copy writer sizes its buffer with it).
RECORD_OVERHEAD = 5 + 8 + TAG_LENGTH
KEY_UPDATE_ROOM = RECORD_OVERHEAD + 5  # a KeyUpdate record, which may precede data (5.5)
_ONE_RECORD_ROOM = RECORD_OVERHEAD + KEY_UPDATE_ROOM  # send_buffer_size(n) - n, one record
_ZEROS = memoryview(bytes(MAX_CIPHERTEXT))
# What `Connection.receive_data_into` and the bound `receive_into` say of a buffer they
# cannot decrypt into.
INTO_BUFFER_REFUSED = ("receive_data_into needs a writable byte buffer of at least "
                       f"{MAX_PLAINTEXT} bytes")
_FULL_HEADER = HEADER.pack(23, _LEGACY_VERSION, MAX_PLAINTEXT + 17)  # a full 1.3 data record
_FULL_RECORD = 5 + MAX_PLAINTEXT + 17
_FULL_ROOM = MAX_PLAINTEXT + _ONE_RECORD_ROOM  # send_buffer_size(MAX_PLAINTEXT)
_FULL_INNER = MAX_PLAINTEXT + 1  # its content and type byte
# The one-record methods' slices, made once: a slice built per record costs an allocation.
_HEAD = slice(None, 5)
_BODY = slice(5, None)
_FULL_BODY = slice(5, _FULL_RECORD)

IntoFn = Callable[[bytes, object, object, memoryview], object]


def aead_into(aead: AEAD, operation: str) -> IntoFn:
    """`aead.encrypt_into`/`decrypt_into` (`operation` "encrypt"/"decrypt"), or the same
    through a copy where `cryptography` lacks them. Callers never let input and output
    overlap (`cryptography` 51 refuses it); a failed decrypt may leave unauthenticated
    plaintext in `buf`. Either refuses a read-only buffer or one whose items are not
    bytes with TypeError before anything else (the bound `receive_into` relies on it;
    the copy, a slice assignment, takes only unsigned bytes)."""
    into = getattr(aead, operation + "_into", None)
    if into is not None:
        return into  # type: ignore[no-any-return]
    whole = getattr(aead, operation)

    def copy_into(nonce: bytes, data: object, aad: object, buf: memoryview) -> int:
        if buf.readonly or buf.format != "B":  # before the tag, as `cryptography` checks
            raise TypeError("the output must be a writable byte buffer")
        buf[:] = whole(nonce, data, aad)
        return len(buf)
    return copy_into


def wipe(buf: memoryview) -> None:
    """Zero `buf` (what a failed tag or a non-data record left in a caller's buffer)."""
    buf[:] = _ZEROS[:len(buf)]


class _Direction:
    """What every protector has: the AEAD, the sequence number and the size limit."""

    __slots__ = ("_aead", "_key", "seq", "suite")
    limit: int  # a slot of each version's class (TLS 1.3's is a property)

    def __init__(self, suite: Suite, key: bytes | None) -> None:
        self.suite = suite
        self._key = key  # None: a TLS 1.3 traffic secret's, derived at first use
        self._aead: AEAD | None = None
        self.seq = 0

    @property
    def aead(self) -> AEAD:
        """The AEAD, made at first use: keys that never protect a record (an idle
        connection's, or a handshake's unused ones) cost no cipher context (an `AESGCM`
        holds about 2.3 KiB of OpenSSL state), and a TLS 1.3 direction installed from
        its secret derives its key and IV only then (two HMACs saved per unused key)."""
        aead = self._aead
        if aead is None:
            key = self._key
            aead = self._aead = self.suite.aead(self._derive() if key is None else key)
            self._key = b""
        return aead

    def _derive(self) -> bytes:
        raise UsageError("this protector was made without a key")

    def _check_seq(self) -> None:
        if self.seq >= _SEQ_LIMIT:
            raise UnexpectedMessage("sequence number would wrap; a new key is required")

    def _take_seq(self) -> int:
        self._check_seq()
        seq = self.seq
        self.seq = seq + 1
        return seq


def _note_empty(opener: Opener) -> None:
    """The record just opened (its sequence number is `seq - 1`) is an empty
    application-data record: one more in a row if the record before it was empty too,
    else the first of a new run; past `MAX_EMPTY_RECORDS` in a row the peer is stalling
    us. Only the openers' general path counts: the bulk paths leave empty records to it,
    so a record with content costs nothing here (a gap in the sequence numbers is what
    ends a run)."""
    seq = opener.seq
    run = opener.empty_run + 1 if opener.empty_end == seq - 1 else 1
    if run > MAX_EMPTY_RECORDS:
        raise UnexpectedMessage(f"more than {MAX_EMPTY_RECORDS} empty records in a row")
    opener.empty_run = run
    opener.empty_end = seq


def _only_empty_before(opener: Opener) -> bool:
    """Every record this opener read before the one just opened was empty (or there
    was none): the run of empty records ends right before it and covers them all."""
    before = opener.seq - 1
    return opener.empty_end == before and opener.empty_run == before


class _Protector13(_Direction):
    """TLS 1.3 (5.3): nonce = static IV XOR sequence number; the secret for KeyUpdate.

    While a connection is established it binds the protectors' one-record methods in
    place of its own (`send_data`, `receive_data` and the zero-copy pair), so a record
    costs one Python call; they hand anything else to the connection's class methods
    through `owner`, a weak reference (no reference cycle). `bulk` says whether the
    connection allows the one-record path now (established, open, this key current):
    a method a caller kept across a close or a KeyUpdate declines and lands there."""

    __slots__ = ("_bulk", "_limit", "fast_until", "iv", "owner", "secret")
    iv: int  # unset until `aead` derives it when made by `from_secret` (read after it)

    def __init__(self, suite: Suite, key: bytes | None, iv: bytes | None,
                 secret: bytes = b"", limit: int = MAX_PLAINTEXT) -> None:
        # `_Direction.__init__` written out: a TLS 1.3 pair makes eight of these. The
        # size limit is given here, not set through `limit` (whose `_arm` would find
        # `bulk` off and leave `fast_until` at 0 anyway).
        self.suite = suite
        self._key = key
        self._aead: AEAD | None = None
        self.seq = 0
        self._limit = limit
        if iv is not None:
            self.iv = int.from_bytes(iv)
        self.secret = secret
        self._bulk = False
        # The sequence number below which the one-record methods run: 0 while `bulk` is
        # off or the size limit is lowered, so one comparison per record checks all of
        # them (see `_arm`).
        self.fast_until = 0
        self.owner: weakref.ref[Any] | None = None

    @property
    def bulk(self) -> bool:
        return self._bulk

    @bulk.setter
    def bulk(self, value: bool) -> None:
        self._bulk = value
        self._arm()

    @property
    def limit(self) -> int:
        """The most content bytes a record may carry (RFC 8449: the record size limit)."""
        return self._limit

    @limit.setter
    def limit(self, value: int) -> None:
        self._limit = value
        self._arm()

    def _arm(self) -> None:
        """Set `fast_until` from what it stands for: bulk allowed, the sequence number
        limit (`_fast_until`) and a size limit at the protocol's maximum. The one-record
        methods then never read the limit: a connection with a lowered one (RFC 8449,
        RFC 6066 max_fragment_length) leaves them to the general paths, which split and
        check records against it."""
        self.fast_until = (self._fast_until() if self._bulk and self._limit >= MAX_PLAINTEXT
                           else 0)

    def _fast_until(self) -> int:
        return _SEQ_LIMIT

    def connection(self) -> Any:
        """The connection this protector works for (what its bound methods defer to)."""
        conn = self.owner() if self.owner is not None else None
        if conn is None:
            raise UsageError("this protector is not bound to a connection")
        return conn

    @classmethod
    def from_secret(cls, suite: Suite, secret: bytes) -> Self:
        """The direction under a traffic secret (7.3); its key and IV are derived when
        the first record needs the AEAD (every record path gets `aead`, or a method
        bound from it, before it reads `iv`)."""
        return cls(suite, None, None, secret)

    def _derive(self) -> bytes:
        key, iv = key_and_iv(self.suite, self.secret)
        self.iv = int.from_bytes(iv)
        return key

    def nonce(self, seq: int) -> bytes:
        """The per-record nonce (5.3); the one place it is built (big-endian: `to_bytes`'s
        default, which the one-record methods also rely on, as it parses faster)."""
        return (self.iv ^ seq).to_bytes(12)

    def next_nonce(self) -> bytes:
        return self.nonce(self._take_seq())

    def next_generation(self) -> Self:
        """The same direction under application_traffic_secret_N+1 (7.2, KeyUpdate)."""
        if not self.secret:
            raise UnexpectedMessage("no traffic secret to update from")
        nxt = self.from_secret(self.suite, next_traffic_secret(self.suite, self.secret))
        nxt.limit = self.limit
        return nxt


class Sealer13(_Protector13):
    """The TLS 1.3 write side: TLSInnerPlaintext sealed into application_data records."""

    __slots__ = ("_rekey_at", "encrypt", "encrypt_into", "out")

    def __init__(self, suite: Suite, key: bytes | None, iv: bytes | None,
                 secret: bytes = b"", limit: int = MAX_PLAINTEXT,
                 rekey_at: int = KEY_UPDATE_AFTER_RECORDS,
                 out: list[bytes] | None = None) -> None:
        super().__init__(suite, key, iv, secret, limit)
        # aead.encrypt(_into), bound at the first record: one lookup less per record.
        self.encrypt: Callable[[bytes, bytes, bytes], bytes] | None = None
        self.encrypt_into: IntoFn | None = None
        self.out: list[bytes] = [] if out is None else out
        self._rekey_at = rekey_at

    @property
    def rekey_at(self) -> int:
        """5.5: the sequence number at which a KeyUpdate goes first."""
        return self._rekey_at

    @rekey_at.setter
    def rekey_at(self, value: int) -> None:
        self._rekey_at = value
        self._arm()

    def _fast_until(self) -> int:
        return self._rekey_at  # far below the wrap limit

    def seal(self, ctype: int, chunk: bytes | bytearray | memoryview, padding: int = 0) -> None:
        """Queue one record of at most `limit` content bytes (5.2, 5.4)."""
        if padding:
            inner = b"".join((chunk, _TYPE_BYTE[ctype],
                              bytes(min(padding, self._limit - len(chunk)))))
        elif type(chunk) is bytes:
            inner = chunk + _TYPE_BYTE[ctype]
        else:
            inner = b"".join((chunk, _TYPE_BYTE[ctype]))
        header = HEADER.pack(_APP, _LEGACY_VERSION, len(inner) + TAG_LENGTH)
        seq = self.seq
        if seq >= _SEQ_LIMIT:
            self._check_seq()  # raises
        self.out += (header, self.aead.encrypt(self.nonce(seq), inner, header))
        self.seq = seq + 1

    def send_app(self, data: bytes) -> bool:
        """The bulk case: `data` fits one record and no KeyUpdate is due. False (and
        nothing done) otherwise, so the caller takes the general path."""
        if not 0 < len(data) <= self._limit or self.seq >= self._rekey_at:
            return False
        self.seal(_APP, data)
        return True

    def send_data(self, data: bytes | bytearray | memoryview) -> None:
        """`Connection.send_data`, bound in its place (see `_Protector13`): `data` as one
        record, queued as header and ciphertext (`encrypt` on `bytes` is its fastest
        form, and `data_to_send` joins them once)."""
        n = len(data)
        seq = self.seq
        if seq < self.fast_until and type(data) is bytes and 0 < n <= MAX_PLAINTEXT:
            encrypt = self.encrypt
            if encrypt is None:
                encrypt = self.encrypt = self.aead.encrypt
            header = _FULL_HEADER if n == MAX_PLAINTEXT else \
                HEADER.pack(_APP, _LEGACY_VERSION, n + 17)
            self.out += (header, encrypt((self.iv ^ seq).to_bytes(12),  # as `nonce`
                                         data + b"\x17", header))
            self.seq = seq + 1  # fast_until (rekey_at) is far below the wrap limit
            return
        conn = self.connection()
        type(conn).send_data(conn, data)

    def _bind_into(self) -> IntoFn:
        seal = self.encrypt_into = aead_into(self.aead, "encrypt")
        return seal

    def send_into(self, data: bytes | bytearray | memoryview,
                  buffer: bytearray | memoryview) -> int:
        """`Connection.send_data_into` for an established connection, which binds it in
        its place: one record sealed straight into the caller's view (its header written
        before the ciphertext by `encrypt_into`), one Python call per record. Anything
        else (a bytearray buffer, more than one record, a KeyUpdate due, records queued,
        a buffer short of `send_buffer_size`, or one the header cannot be written to) goes
        to the connection's method, which says what is wrong with the buffer.

        Writing the header is the writability and item-size check: a read-only view
        refuses it (TypeError) and so does one whose items are not single bytes
        (ValueError), before anything is written; two attribute loads fewer per record.
        A full record (the bulk case) has constants for its header, size check and
        slices: no header packed, no slice object built, fewer ints."""
        n = len(data)
        seq = self.seq
        if seq < self.fast_until and type(buffer) is memoryview and not self.out:
            if n == MAX_PLAINTEXT:
                header = _FULL_HEADER if len(buffer) >= _FULL_ROOM else None
                body, end = _FULL_BODY, _FULL_RECORD
            elif 0 < n <= MAX_PLAINTEXT and n + _ONE_RECORD_ROOM <= len(buffer):
                header = HEADER.pack(_APP, _LEGACY_VERSION, n + 17)
                end = n + 22
                body = slice(5, end)
            else:
                header = None
            if header is not None:
                try:
                    buffer[_HEAD] = header
                except (TypeError, ValueError):
                    pass  # not a writable byte buffer: the connection's method reports it
                else:
                    (self.encrypt_into or self._bind_into())(
                        (self.iv ^ seq).to_bytes(12),  # the nonce as `nonce` builds it
                        data + b"\x17" if type(data) is bytes else b"".join((data, b"\x17")),
                        header, buffer[body])
                    self.seq = seq + 1  # fast_until (rekey_at) is far below the wrap limit
                    return end
        conn = self.connection()
        return type(conn).send_data_into(conn, data, buffer)  # type: ignore[no-any-return]

    def seal_app_into(self, data: bytes | bytearray | memoryview, out: memoryview) -> int:
        """The zero-copy bulk case: `data` as application-data records of at most `limit`
        bytes sealed straight into `out`; the bytes written. -1 (and nothing done) when
        `data` is empty, `out` smaller than `Connection.send_buffer_size` asks, a KeyUpdate
        is due before the last record or other records are queued (they go first): the
        general path."""
        n = len(data)
        seq = self.seq
        limit = self._limit
        count = -(-n // limit)
        if (not n or seq + count > self._rekey_at or self.out
                or n + RECORD_OVERHEAD * count + KEY_UPDATE_ROOM > len(out)):
            return -1
        seal = self.encrypt_into or self._bind_into()
        iv = self.iv  # (read after the AEAD exists: a key from a secret derives it)
        pos = 0
        with memoryview(data) as view:
            for start in range(0, n, limit):
                chunk = view[start:start + limit]
                end = pos + 22 + len(chunk)  # header, content, type byte, tag
                header = _FULL_HEADER if end - pos == _FULL_RECORD else \
                    HEADER.pack(_APP, _LEGACY_VERSION, end - pos - 5)
                out[pos:pos + 5] = header
                seal((iv ^ seq).to_bytes(12),  # the nonce as `nonce` builds it
                     b"".join((chunk, b"\x17")), header, out[pos + 5:end])
                seq += 1
                self.seq = seq  # each record sealed counts, whatever happens next
                pos = end
        return pos


class Opener13(_Protector13):
    """The TLS 1.3 read side: opens records and strips the inner type and padding."""

    __slots__ = ("decrypt", "decrypt_into", "empty_end", "empty_run", "opened")

    def __init__(self, suite: Suite, key: bytes | None, iv: bytes | None,
                 secret: bytes = b"", limit: int = MAX_PLAINTEXT) -> None:
        super().__init__(suite, key, iv, secret, limit)
        # The run of empty records that ended most recently: its length and the sequence
        # number after its last record (`_note_empty`).
        self.empty_run = 0
        self.empty_end = 0
        # aead.decrypt(_into), bound at the first record: one lookup less per record.
        self.decrypt: Callable[[bytes, bytes | memoryview, bytes | memoryview], bytes] | None = None
        self.decrypt_into: IntoFn | None = None
        # The TLSInnerPlaintext of a record a fast path authenticated but does not handle
        # (not application data, or padded): its bytes are consumed and its sequence
        # number spent, and the record layer's general path takes it before anything
        # else (`RecordLayer.next_record_into`), so no record is decrypted twice. Always
        # `bytes` of its own: never a view of a caller's buffer. `FORGED` for a record
        # that failed its tag (consumed, number unspent; the general path reports it).
        self.opened: bytes | None = None

    def check(self, length: int) -> None:
        """Structural checks on a protected record of `length` bytes, before decrypting."""
        if length < TAG_LENGTH + 1:
            raise BadRecordMac("protected record too short to hold a tag and a content type")
        self._check_seq()

    def open(self, header: bytes, body: bytes | memoryview) -> bytes:
        """The TLSInnerPlaintext of one record (after `check`). Raises only InvalidTag
        (then `seq` is unchanged), so no traceback holds on to a view of the input."""
        seq = self.seq
        plain = self.aead.decrypt(self.nonce(seq), body, header)
        self.seq = seq + 1
        return plain

    def _bind_into(self) -> IntoFn:
        into = self.decrypt_into = aead_into(self.aead, "decrypt")
        return into

    def open_into(self, header: bytes, body: memoryview, target: memoryview) -> memoryview:
        """`open` into `target` (exactly the TLSInnerPlaintext's length). Raises only
        InvalidTag, and then leaves `target` zeroed and `seq` unchanged."""
        seq = self.seq
        into = self.decrypt_into or self._bind_into()
        try:
            into(self.nonce(seq), body, header, target)
        except InvalidTag:
            wipe(target)
            raise
        self.seq = seq + 1
        return target

    def finish(self, ctype: int, plain: bytes | memoryview) -> tuple[int, bytes | memoryview]:
        """(content type, content) from an opened record (a view when `plain` is one)."""
        return self._unpad(plain)

    def _unpad(self, plain: bytes | memoryview) -> tuple[int, bytes | memoryview]:
        # TLSInnerPlaintext: content || type || zeros. The type is the last non-zero byte.
        last = plain[-1]
        if last:
            end = len(plain) - 1
        else:
            end = len(bytes(plain).rstrip(b"\x00")) - 1
            if end < 0:
                raise UnexpectedMessage("protected record has no non-zero content type")
            last = plain[end]
        if len(plain) > self._limit + 1:  # RFC 8449 4: type and padding count too
            raise RecordOverflow(
                f"record plaintext of {len(plain)} bytes exceeds {self._limit + 1}")
        if last != _CT_APP:
            if last not in _HANDSHAKE_OR_ALERT:
                raise UnexpectedMessage(f"inner content type {last} not allowed")
            if end == 0:
                raise UnexpectedMessage(f"empty {ContentType(last).name} record")
        elif end == 0:
            self.note_empty()
        return last, plain[:end]

    note_empty = _note_empty

    def receive_data(self, data: bytes | bytearray | memoryview) -> list[Any]:
        """`Connection.receive_data`, bound in its place (see `_Protector13`): `data`
        being one whole unpadded application-data record in a `bytes`, it is opened
        straight from the caller's object. Anything else goes to the connection's method,
        which reports any error."""
        n = len(data)
        seq = self.seq
        # The header checks of `receive_into`, on the additional data as received (a
        # record of 22 bytes is empty: counted by the general path).
        if seq < self.fast_until and type(data) is bytes and (
                ((header := data[_HEAD]) == _FULL_HEADER and n == _FULL_RECORD)
                or (22 < n <= _FULL_RECORD
                    and _APP_HEAD.unpack_from(data) == (_APP_MAJOR, n - 5))):
            decrypt = self.decrypt
            if decrypt is None:
                decrypt = self.decrypt = self.aead.decrypt
            try:
                plain = decrypt((self.iv ^ seq).to_bytes(12),  # as `nonce`
                                memoryview(data)[_BODY], header)
            except InvalidTag:
                plain = FORGED
            else:
                self.seq = seq + 1
                if plain[-1] == _APP:
                    return [DataReceived(plain[:-1])]
            self.opened = plain  # for the general path, which the call below runs
            data = b""
        conn = self.connection()
        return type(conn).receive_data(conn, data)  # type: ignore[no-any-return]

    def open_app(self, data: bytes | memoryview) -> tuple[list[bytes], int]:
        """Open the leading whole, unpadded application-data records of `data`.

        Stops before the first record that is incomplete, oversized or empty (which the
        general path counts), or after one that failed its tag, is not application data
        or is padded (consumed and held as `opened`), and returns (contents, bytes
        consumed); the general path then handles the rest, the held record first,
        including reporting any error.
        """
        n = len(data)
        if n <= 5 + TAG_LENGTH:
            return [], 0
        seq = self.seq
        decrypt = self.decrypt
        if decrypt is None:
            decrypt = self.decrypt = self.aead.decrypt
        iv = self.iv  # (read after the AEAD exists: a key from a secret derives it)
        limit = self._limit + 1 + TAG_LENGTH
        out: list[bytes] = []
        pos = 0
        # No release needed: `bytes` cannot be resized, and a view of a view is one
        # more view of the caller's (byte-format, contiguous) buffer, gone on return.
        view = memoryview(data)
        while n - pos > 5 + TAG_LENGTH:
            end = pos + 5 + ((data[pos + 3] << 8) | data[pos + 4])
            if (end > n or data[pos] != _APP or data[pos + 1] != 3 or end - pos - 5 > limit
                    or end - pos <= 6 + TAG_LENGTH or seq >= _SEQ_LIMIT):
                break
            try:
                plain = decrypt((iv ^ seq).to_bytes(12),  # the nonce as `nonce` builds it
                                view[pos + 5:end], data[pos:pos + 5])
            except InvalidTag:
                self.opened = FORGED
                pos = end
                break
            seq += 1
            pos = end
            if plain[-1] != _APP:
                self.opened = plain  # a handshake message or alert, or padding: held
                break
            out.append(plain[:-1])
        self.seq = seq
        return out, pos

    def open_app_into(self, data: bytes | bytearray | memoryview, buf: memoryview) -> int:
        """Decrypt one whole unpadded application-data record `data` into `buf` (which
        must hold its content and the type byte); the content length. `HELD` when it
        opened to anything else or failed its tag (consumed and held as `opened`, for
        the general path to interpret or report; nothing left in `buf`), -1 when it is
        not such a record or does not fit (nothing consumed)."""
        if len(data) < 5 or (data[3] << 8) | data[4] != len(data) - 5:
            return -1  # not exactly one record: opening its first would spend a number
        written, used = self.open_records_into(data, buf)
        if not used:
            return -1
        return written if self.opened is None else HELD

    def receive_into(self, data: bytes | bytearray | memoryview,
                     buffer: bytearray | memoryview) -> tuple[int, list[Any]]:
        """`Connection.receive_data_into` for an established connection, which binds it
        in its place: `data` being one whole unpadded application-data record, it is
        opened straight into the caller's view, one Python call per record. Anything else
        (a bytearray buffer, other records, several, a failed tag) goes to the
        connection's method, which reports any error; a record that opened to anything
        but unpadded data goes there as its plaintext (`opened`), never decrypted again.
        Nothing unauthentic (and no non-data plaintext) is left in `buffer`.

        The AEAD checks the buffer: `decrypt_into` refuses a read-only view, or one whose
        items are not bytes, with TypeError before it decrypts or writes anything (as
        the copying stand-in does), which is the connection's UsageError here, nothing
        consumed; two attribute loads fewer per record."""
        seq = self.seq
        if seq < self.fast_until and type(buffer) is memoryview:  # bulk allowed, no wrap
            n = len(data)
            room = len(buffer)
            # application_data, a TLS major version and the length of `data`; content (not
            # empty: the general path counts empty records), type byte and tag within the
            # maximum (`fast_until` is 0 under a lowered
            # limit); the buffer at least 16 KiB and taking content and type byte. A full
            # record (the bulk case) into a view of exactly its TLSInnerPlaintext's size
            # (16 KiB + 1, what `receive_data_into` suggests) is checked with constants:
            # its header compared with the constant, its size known, and decrypted into
            # the view itself. Anything else (a full record into a larger view too) into
            # a slice of the view.
            # The additional data (5.2) is the header as received: for a full record the
            # constant it equals (`bytes`, which `cryptography` takes faster than a view).
            header: bytes | memoryview | bytearray | None
            if n == _FULL_RECORD and room == _FULL_INNER and data[_HEAD] == _FULL_HEADER:
                header, inner, target = _FULL_HEADER, _FULL_INNER, buffer
            elif (22 < n <= _FULL_RECORD and MAX_PLAINTEXT <= room >= n - 21
                  and _APP_HEAD.unpack_from(data) == (_APP_MAJOR, n - 5)):
                header, inner = data[_HEAD], n - 21  # content and type byte
                target = buffer if room == inner else buffer[:inner]
            else:
                header = None
            if header is not None:
                try:
                    (self.decrypt_into or self._bind_into())(
                        (self.iv ^ seq).to_bytes(12),  # as `nonce` builds it
                        (data if type(data) is memoryview else memoryview(data))[_BODY],
                        header, target)
                except InvalidTag:
                    data = self._hold(FORGED, target)
                except TypeError:  # refused before anything was decrypted or written
                    raise UsageError(INTO_BUFFER_REFUSED) from None
                else:
                    self.seq = seq + 1
                    if target[-1] == _APP:
                        return inner - 1, []
                    # Padded, or not application data: held (a copy).
                    data = self._hold(bytes(target), target)
        conn = self.connection()
        return type(conn).receive_data_into(conn, data, buffer)  # type: ignore[no-any-return]

    def _hold(self, plain: bytes, target: memoryview) -> bytes:
        """Keep a record `receive_into` consumed but does not handle (its plaintext, or
        `FORGED`) for the general path, and zero `target`: nothing unauthentic (the AEAD
        may have written it) or other than data is left in the caller's buffer. Returns
        what is left of the caller's input for the general path: nothing."""
        self.opened = plain
        wipe(target)
        return b""

    def open_records_into(self, data: bytes | bytearray | memoryview,
                          out: memoryview) -> tuple[int, int]:
        """Decrypt the leading whole, unpadded application-data records of `data`
        straight into `out` while their TLSInnerPlaintext fits; (content bytes written,
        bytes of `data` consumed). Stops, as `open_app`, at anything else for the general
        path (after a record it held as `opened`, copied out of `out`), and before an
        empty record (the general path counts them); nothing unauthentic (and no non-data
        plaintext) is left in `out`."""
        n = len(data)
        seq = self.seq
        into = self.decrypt_into or self._bind_into()
        iv = self.iv  # (read after the AEAD exists: a key from a secret derives it)
        room = len(out)
        limit = self._limit + 1 + TAG_LENGTH
        written = pos = 0
        with memoryview(data) as view:
            while n - pos > 5 + TAG_LENGTH:
                ctype, version, length = HEADER.unpack_from(data, pos)
                inner = length - TAG_LENGTH
                end = pos + 5 + length
                if (end > n or ctype != _APP or version >> 8 != 3 or length > limit
                        or inner < 2 or inner > room - written or seq >= _SEQ_LIMIT):
                    break
                target = out[written:written + inner]
                try:
                    into((iv ^ seq).to_bytes(12),  # the nonce as `nonce` builds it
                         view[pos + 5:end], view[pos:pos + 5], target)
                except InvalidTag:
                    self.opened = FORGED
                    wipe(target)
                    pos = end
                    break
                seq += 1
                pos = end
                if target[-1] != _APP:
                    self.opened = bytes(target)  # held for the general path
                    wipe(target)
                    break
                written += inner - 1
        self.seq = seq
        return written, pos


class _Protector12(_Direction):
    """TLS 1.2 AEAD (RFC 5288, 7905): AES-GCM carries an 8-byte explicit nonce in each
    record (we send the sequence number); ChaCha20-Poly1305 XORs the IV like TLS 1.3."""

    __slots__ = ("explicit", "iv", "limit", "salt")

    def __init__(self, suite: Suite, key: bytes, iv: bytes) -> None:
        super().__init__(suite, key)
        self.limit = MAX_PLAINTEXT
        self.explicit = len(iv) == 4
        self.salt = iv
        self.iv = 0 if self.explicit else int.from_bytes(iv, "big")

    def nonce(self, seq: int, explicit: bytes = b"") -> bytes:
        """The per-record nonce; the one place it is built."""
        if self.explicit:
            return self.salt + (explicit or seq.to_bytes(8, "big"))
        return (self.iv ^ seq).to_bytes(12)

    def next_nonce(self) -> bytes:
        return self.nonce(self._take_seq())


class Sealer12(_Protector12):
    """The TLS 1.2 write side."""

    __slots__ = ("out", "rekey_at")

    def __init__(self, suite: Suite, key: bytes, iv: bytes) -> None:
        super().__init__(suite, key, iv)
        self.out: list[bytes] = []
        self.rekey_at = _SEQ_LIMIT  # TLS 1.2 has no KeyUpdate

    def seal(self, ctype: int, chunk: bytes | bytearray | memoryview, padding: int = 0) -> None:
        seq = self._take_seq()
        explicit = seq.to_bytes(8, "big") if self.explicit else b""
        n = len(chunk)
        header = HEADER.pack(ctype, _LEGACY_VERSION, len(explicit) + n + TAG_LENGTH)
        aad = _SEQ_HEADER.pack(seq, ctype, _LEGACY_VERSION, n)
        self.out += (header, explicit,
                     self.aead.encrypt(self.nonce(seq, explicit), chunk, aad))

    def send_app(self, data: bytes) -> bool:
        """The bulk case, as `Sealer13.send_app`."""
        if not 0 < len(data) <= self.limit or self.seq >= self.rekey_at:
            return False
        self.seal(_APP, data)
        return True

    def seal_app_into(self, data: bytes | bytearray | memoryview, out: memoryview) -> int:
        """No zero-copy shortcut for TLS 1.2: the general path."""
        return -1


class Opener12(_Protector12):
    """The TLS 1.2 read side (no fast path: nothing is ever held as `opened`; the
    header tells the content type before anything is decrypted)."""

    __slots__ = ("empty_end", "empty_run", "opened")

    def __init__(self, suite: Suite, key: bytes, iv: bytes) -> None:
        super().__init__(suite, key, iv)
        self.opened: bytes | None = None
        self.empty_run = 0  # as `Opener13`'s
        self.empty_end = 0

    def check(self, length: int) -> None:
        explicit_len = 8 if self.explicit else 0
        if length < explicit_len + TAG_LENGTH:
            raise BadRecordMac("protected record too short to hold a nonce and a tag")
        plain_len = length - explicit_len - TAG_LENGTH
        if plain_len > self.limit:
            raise RecordOverflow(f"record plaintext of {plain_len} bytes exceeds {self.limit}")
        self._check_seq()

    def open(self, header: bytes, body: bytes | memoryview) -> bytes:
        """The content of one record (after `check`); raises only InvalidTag."""
        explicit_len = 8 if self.explicit else 0
        seq = self._take_seq()
        version = (header[1] << 8) | header[2]  # RFC 5246 6.2.3.3: as received
        aad = _SEQ_HEADER.pack(seq, header[0], version, len(body) - explicit_len - TAG_LENGTH)
        return self.aead.decrypt(self.nonce(seq, bytes(body[:explicit_len])),
                                 body[explicit_len:], aad)

    def finish(self, ctype: int, plain: bytes) -> tuple[int, bytes]:
        if not plain:
            if ctype != _CT_APP:
                raise UnexpectedMessage(f"empty {ContentType(ctype).name} record")
            self.note_empty()
        return ctype, plain

    note_empty = _note_empty

    def open_app(self, data: bytes | memoryview) -> tuple[list[bytes], int]:
        """No bulk shortcut for TLS 1.2: everything takes the general path."""
        return [], 0

    def open_app_into(self, data: bytes | bytearray | memoryview, buf: memoryview) -> int:
        return -1

    def open_records_into(self, data: bytes | bytearray | memoryview,
                          out: memoryview) -> tuple[int, int]:
        return 0, 0


Sealer = Sealer13 | Sealer12
Opener = Opener13 | Opener12
_Protection = Sealer13  # the name older tests and tools use for a TLS 1.3 direction


class RecordLayer:
    """Splits a byte stream into records and protects/unprotects them.

    Records are processed as soon as they are complete, so what a peer can make us hold
    unprocessed is at most one maximal record and its header.
    """

    __slots__ = ("__weakref__", "_in", "_key_updates", "_out", "_peer_protected", "_pos",
                 "_receive_limit", "_rekey_after", "_send_limit", "early_data_skip",
                 "legacy_version_out", "opener", "sealer", "tls12")

    def __init__(self) -> None:
        self._in = bytearray()
        self._pos = 0
        # The current protectors, public for the connection's bulk path (read-only).
        self.opener: Opener | None = None
        self.sealer: Sealer | None = None
        self._out: list[bytes] = []
        self._send_limit = MAX_PLAINTEXT     # the peer's record_size_limit, minus the type byte
        self._receive_limit = MAX_PLAINTEXT  # what we accept in one record's content
        self._rekey_after = KEY_UPDATE_AFTER_RECORDS
        self.legacy_version_out = _LEGACY_VERSION
        self._peer_protected = False  # a protected record from the peer has been read
        # 4.2.10: a server that declines 0-RTT skips the client's early data, up to a bound.
        self.early_data_skip = 0
        # TLS 1.2 is the version (its ServerHello sent or read): every record read from
        # then on must carry 0x0303 (`expect_tls12`).
        self.tls12 = False
        self._key_updates = 0  # KeyUpdates read in a row (`update_read`)

    # -- keys -------------------------------------------------------------------------

    @property
    def read_protected(self) -> bool:
        return self.opener is not None

    @property
    def write_protected(self) -> bool:
        return self.sealer is not None

    @property
    def _read(self) -> Opener | None:  # the names tests and tools used before
        return self.opener

    @property
    def _write(self) -> Sealer | None:
        return self.sealer

    def install_read(self, suite: Suite, secret: bytes) -> None:
        """Read under a TLS 1.3 traffic secret (7.3); the record layer keeps it. The new
        protector is made with its size limit (`from_secret`, one call less; a handshake
        installs four directions per side)."""
        self._replace_read(Opener13(suite, None, None, secret, self._receive_limit))

    def install_write(self, suite: Suite, secret: bytes) -> None:
        """Write under a TLS 1.3 traffic secret (7.3); the record layer keeps it. The new
        protector is made with the limits and the output queue."""
        self._replace_write(Sealer13(suite, None, None, secret, self._send_limit,
                                     self._rekey_after, self._out))

    def update_read(self) -> bytes:
        """KeyUpdate received (4.6.3): the next read secret is derived and installed,
        unless it is the peer's `MAX_KEY_UPDATES` + 1st in a row: only empty records
        between them (the record before this one opened under a key with nothing else
        read) keep the run going; data, a ticket or any other record under the current
        key ends it."""
        opener = self.opener
        if not isinstance(opener, Opener13):
            raise UnexpectedMessage("KeyUpdate without TLS 1.3 read keys")
        run = self._key_updates + 1 if _only_empty_before(opener) else 1
        if run > MAX_KEY_UPDATES:
            raise UnexpectedMessage(
                f"more than {MAX_KEY_UPDATES} KeyUpdates without application data")
        self._key_updates = run
        nxt = opener.next_generation()
        self._set_read(nxt)
        return nxt.secret

    def update_write(self) -> bytes:
        """KeyUpdate sent (4.6.3): the next write secret is derived and installed."""
        if not isinstance(self.sealer, Sealer13):
            raise UnexpectedMessage("KeyUpdate without TLS 1.3 write keys")
        self._set_write(self.sealer.next_generation())
        return self.sealer.secret

    @property
    def read_secret(self) -> bytes:
        """The current TLS 1.3 read traffic secret (b"" when none or TLS 1.2)."""
        return self.opener.secret if isinstance(self.opener, Opener13) else b""

    @property
    def write_secret(self) -> bytes:
        return self.sealer.secret if isinstance(self.sealer, Sealer13) else b""

    def install_read12(self, suite: Suite, key: bytes, iv: bytes) -> None:
        """Read under TLS 1.2 key-block keys (RFC 5246 6.3)."""
        self._set_read(Opener12(suite, key, iv))

    def install_write12(self, suite: Suite, key: bytes, iv: bytes) -> None:
        self._set_write(Sealer12(suite, key, iv))

    # The names the handshake used before the secret moved here.
    def set_read_key(self, suite: Suite, key: bytes, iv: bytes) -> None:
        self._set_read(Opener13(suite, key, iv))

    def set_write_key(self, suite: Suite, key: bytes, iv: bytes) -> None:
        self._set_write(Sealer13(suite, key, iv))

    set_read_key12 = install_read12
    set_write_key12 = install_write12

    def clear_write_key(self) -> None:
        """Write in the clear again (a second ClientHello after 0-RTT was attempted)."""
        self.sealer = None

    def _set_read(self, opener: Opener) -> None:
        opener.limit = self._receive_limit
        self._replace_read(opener)

    def _set_write(self, sealer: Sealer) -> None:
        sealer.limit = self._send_limit
        sealer.out = self._out
        if isinstance(sealer, Sealer13):
            sealer.rekey_at = self._rekey_after
        self._replace_write(sealer)

    def _replace_read(self, opener: Opener) -> None:
        """`opener` reads from now on; a fast path still bound to the old one declines."""
        if isinstance(self.opener, Opener13):
            self.opener.bulk = False
        self.opener = opener

    def _replace_write(self, sealer: Sealer) -> None:
        """`sealer` writes from now on; a fast path still bound to the old one declines."""
        if isinstance(self.sealer, Sealer13):
            self.sealer.bulk = False
        self.sealer = sealer

    @property
    def write_sequence(self) -> int:
        return self.sealer.seq if self.sealer else 0

    @property
    def rekey_due(self) -> bool:
        """5.5: the write side has sent as many records as one key should (TLS 1.3)."""
        w = self.sealer
        return isinstance(w, Sealer13) and w.seq >= w.rekey_at

    # -- limits (RFC 8449), applied to the current and every later protector ----------

    @property
    def send_limit(self) -> int:
        return self._send_limit

    @send_limit.setter
    def send_limit(self, value: int) -> None:
        self._send_limit = value
        if self.sealer is not None:
            self.sealer.limit = value

    @property
    def receive_limit(self) -> int:
        return self._receive_limit

    @receive_limit.setter
    def receive_limit(self, value: int) -> None:
        self._receive_limit = value
        if self.opener is not None:
            self.opener.limit = value

    @property
    def rekey_after(self) -> int:
        return self._rekey_after

    @rekey_after.setter
    def rekey_after(self, value: int) -> None:
        self._rekey_after = value
        if isinstance(self.sealer, Sealer13):
            self.sealer.rekey_at = value

    # -- reading -------------------------------------------------------------------------

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        if self._pos:  # drop what was consumed; what is left is less than one record
            del self._in[:self._pos]
            self._pos = 0
        self._in += data

    def expect_tls12(self) -> None:
        """TLS 1.2 was negotiated: from now on a record whose version is not 0x0303 ends
        the connection with protocol_version (RFC 5246 6.2.1 has the record carry the
        negotiated version; OpenSSL and Go refuse any other, as BoringSSL does). The
        checks are on the TLS 1.2 paths only: the plaintext records before the
        change_cipher_spec and `Opener12`'s records. TLS 1.3's legacy_record_version is
        not checked (RFC 8446 5.1)."""
        self.tls12 = True

    def take_input(self) -> bytes:
        rest = bytes(self._in[self._pos:])
        self._in.clear()
        self._pos = 0
        if self.opener is not None:
            self.opener.opened = None  # (a record held by a fast path goes too)
        return rest

    @property
    def buffered(self) -> int:
        """Bytes received and not processed yet (a record held opened counts as one)."""
        held = self.opener is not None and self.opener.opened is not None
        return len(self._in) - self._pos + held

    def next_record(self) -> tuple[int, bytes] | None:
        """The next complete record as (content type, plaintext), or None if incomplete."""
        return self.next_record_into(None, 0)  # type: ignore[return-value]

    def next_record_into(self, out: memoryview | None, written: int
                         ) -> tuple[int, bytes | memoryview] | None:
        """`next_record`, but a protected application-data record whose plaintext fits
        in `out[written:]` is decrypted there (its content comes back as a view of
        `out`); None too when `written` is not 0 and the next record might not fit (it
        stays buffered: `record_waiting`). Framing and the plaintext cases are checked
        here, in one call per record; protected records go on to `_open`. A record a
        fast path opened and held (`Opener13.opened`) comes first: it arrived before
        anything buffered, and only `_opened` reads its plaintext."""
        read = self.opener
        if read is not None and read.opened is not None:
            # (Its content fits in `out[written:]`: the fast paths only open a record
            # whose TLSInnerPlaintext fits there.)
            plain = read.opened
            read.opened = None
            if not plain:  # FORGED
                raise BadRecordMac("record failed authentication")  # (as `_open` says)
            return self._opened(read, _CT_APP, plain, None)
        while True:
            buf = self._in
            pos = self._pos
            have = len(buf)
            if have - pos < 5:
                if pos == have:  # all consumed: an idle connection keeps no buffer
                    buf.clear()
                    self._pos = 0
                return None
            ctype, version, length = HEADER.unpack_from(buf, pos)
            if version >> 8 != 3:
                raise NotTLSError(f"record version {version:#06x} is not TLS",
                                  bytes(buf[pos:pos + 80]))
            if ctype not in _KNOWN_TYPES:
                raise UnexpectedMessage(f"unknown record content type {ctype}")
            read = self.opener
            if length > (MAX_CIPHERTEXT if read is not None else MAX_PLAINTEXT):
                raise RecordOverflow(f"record of {length} bytes exceeds the limit")
            end = pos + 5 + length
            if have < end:
                return None
            if read is None or ctype == _CT_CCS:
                if version != _LEGACY_VERSION and self.tls12:
                    raise ProtocolVersionError(f"TLS 1.2 record with version {version:#06x}")
                self._pos = end
                if length and ctype in _HANDSHAKE_OR_ALERT:
                    return ctype, bytes(buf[pos + 5:end])  # (the handshake's common case)
                record = self._plaintext(ctype, bytes(buf[pos + 5:end]), read is None)
            else:
                target = None
                if out is not None and ctype == _CT_APP:
                    room = len(out) - written
                    if written and length - TAG_LENGTH > room:
                        return None  # the content might not fit: left for the next call
                    if isinstance(read, Opener13) and TAG_LENGTH < length <= room + TAG_LENGTH:
                        target = out[written:written + length - TAG_LENGTH]
                self._pos = end
                record = self._open(read, ctype, pos, end, target)
            if record is not _SKIPPED:
                return record  # type: ignore[return-value]

    @property
    def record_waiting(self) -> bool:
        """A complete record is buffered (left by a caller's buffer that was full)."""
        buf = self._in
        pos = self._pos
        if self.opener is not None and self.opener.opened is not None:
            return True
        return len(buf) - pos >= 5 and len(buf) - pos - 5 >= (buf[pos + 3] << 8) | buf[pos + 4]

    def open_app_into(self, data: bytes | bytearray | memoryview, buf: memoryview) -> int:
        """`data` as exactly one application-data record decrypted into `buf`; -1 if it
        is not that (nothing consumed), `HELD` if it opened to anything else (see
        `Opener13.open_app_into`)."""
        read = self.opener
        if read is None or self._pos != len(self._in) or read.opened is not None:
            return -1
        return read.open_app_into(data, buf)

    def _open(self, read: Opener, ctype: int, pos: int, end: int,
              target: memoryview | None) -> tuple[int, bytes | memoryview] | object:
        """The protected record at `buf[pos:end]` (already consumed), opened (into
        `target` when given); `_SKIPPED` for declined early data."""
        buf = self._in
        length = end - pos - 5
        if isinstance(read, Opener13):
            if ctype != _CT_APP:
                if ctype == _CT_ALERT and not self._peer_protected and length == 2:
                    # RFC 8446 6: alerts go under the sender's *current* keys, and until
                    # the peer's first protected record we cannot tell whether it has
                    # switched: a client that gives up before reading our ServerHello, or
                    # that rejects our flight before its second one (OpenSSL's client),
                    # alerts in the clear. Read as the alert it is, close_notify included
                    # (OpenSSL's server and rustls do the same); nothing else may be plain.
                    return _CT_ALERT, bytes(buf[pos + 5:end])
                raise UnexpectedMessage(
                    f"unprotected {ContentType(ctype).name} record after encryption started")
        elif buf[pos + 2] != 3:  # TLS 1.2 (`expect_tls12`; the major byte is checked)
            raise ProtocolVersionError(
                f"TLS 1.2 record with version {buf[pos + 1]:#04x}{buf[pos + 2]:02x}")
        read.check(length)
        header = bytes(buf[pos:pos + 5])
        with memoryview(buf) as view:
            try:
                plain: bytes | memoryview | None = (
                    read.open(header, view[pos + 5:end]) if target is None
                    else read.open_into(header, view[pos + 5:end], target))  # type: ignore[union-attr]
            except InvalidTag:
                plain = None  # handled below: no traceback may keep `buf` exported
        if plain is None:
            if isinstance(read, Opener13) and self._skip_early(length):
                return _SKIPPED  # a skipped record does not consume a sequence number
            raise BadRecordMac("record failed authentication")
        return self._opened(read, ctype, plain, target)

    def _opened(self, read: Opener, ctype: int, plain: bytes | memoryview,
                target: memoryview | None) -> tuple[int, bytes | memoryview]:
        """The one place an authenticated record's plaintext is read: (content type,
        content) by the record's rules (RFC 8446 5.2-5.4: inner type, padding, size), for
        the records `_open` decrypted and those a fast path held. `plain` is a view of
        `target`, in the caller's buffer, when given: nothing but application data stays
        there."""
        self.early_data_skip = 0  # the first record that decrypts ends the skipping
        self._peer_protected = True
        if target is None:
            return read.finish(ctype, plain)  # type: ignore[arg-type]
        try:
            inner, content = read.finish(ctype, plain)  # type: ignore[arg-type]
        except TLSError:
            wipe(target)
            raise
        if inner != _CT_APP:  # a handshake message or alert: as bytes, out of `out`
            content = bytes(content)
            wipe(target)
        return inner, content

    def _plaintext(self, ctype: int, body: bytes, no_keys: bool) -> tuple[int, bytes] | object:
        length = len(body)
        if length == 0 and ctype == _CT_CCS:
            raise UnexpectedMessage("change_cipher_spec must carry the single byte 1")
        if length == 0 and ctype != _CT_APP:
            raise DecodeError(f"empty {ContentType(ctype).name} record")
        if ctype == _CT_APP and no_keys:
            if self._skip_early(length):
                return _SKIPPED
            raise UnexpectedMessage("application data before the keys are established")
        return ctype, body

    def _skip_early(self, length: int) -> bool:
        if not self.early_data_skip or self.early_data_skip < length:
            return False
        self.early_data_skip -= length
        return True

    # -- writing -------------------------------------------------------------------------
    # Output is a list of finished byte strings (headers and ciphertexts), joined once in
    # take_output(): cryptography's encrypt() on `bytes` is its fastest form.

    def write(self, ctype: int, data: bytes | bytearray | memoryview, padding: int = 0) -> None:
        """Queue `data` as one or more records of `ctype`, protected if a key is set."""
        w = self.sealer
        n = len(data)
        if w is None:
            # Unprotected records keep to the send limit too: RFC 8449 4 exempts them from
            # record_size_limit (a smaller record is always allowed), but a TLS 1.2
            # max_fragment_length (RFC 6066 4) covers the plaintext Certificate after
            # the ServerHello.
            version, limit = self.legacy_version_out, self._send_limit
            if n <= limit:  # one record (an empty one for no data)
                self._out += (HEADER.pack(ctype, version, n), bytes(data))
                return
            for start in range(0, n, limit):
                chunk = bytes(data[start:start + limit])
                self._out += (HEADER.pack(ctype, version, len(chunk)), chunk)
            return
        limit = w.limit
        if n <= limit:
            w.seal(ctype, data, padding)  # the common case: one record
            return
        view = memoryview(data)
        for start in range(0, n, limit):
            w.seal(ctype, view[start:start + limit], padding)

    def write_unprotected(self, ctype: int, data: bytes) -> None:
        """A plaintext record even after keys exist (the compatibility CCS)."""
        self._out += (HEADER.pack(ctype, _LEGACY_VERSION, len(data)), bytes(data))

    def take_output(self) -> bytes:
        out = self._out
        if not out:
            return b""
        data = b"".join(out)
        out.clear()
        return data

    @property
    def pending_output(self) -> int:
        return sum(map(len, self._out))
