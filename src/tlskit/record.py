"""The record layer (RFC 8446 section 5): framing, protection, padding, size limits.

Incoming bytes accumulate in one bytearray; complete records are cut out with a
precompiled header struct and decrypted straight from a memoryview. Outgoing records are
queued as finished byte strings (header, ciphertext) and joined once by `take_output`:
`cryptography`'s `encrypt()` on `bytes` is its fastest form. Nonces are
``static_iv XOR seq`` computed on ints. After the handshake, `bulk_sender` and
`bulk_receiver` give the connection closures for the one-record application-data case,
so the per-record Python work is a handful of operations around the AEAD call.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from cryptography.exceptions import InvalidTag

from .crypto import Suite
from .enums import ContentType
from .errors import BadRecordMac, DecodeError, RecordOverflow, UnexpectedMessage

HEADER = struct.Struct(">BHH")
MAX_PLAINTEXT = 1 << 14
MAX_CIPHERTEXT = MAX_PLAINTEXT + 256
TAG_LENGTH = 16
_APPDATA_HEADER = b"\x17\x03\x03"
_CT_APP = ContentType.application_data
_KNOWN_TYPES = frozenset((20, 21, 22, 23))
_TYPE_BYTE = {t: bytes((t,)) for t in range(256)}
_SEQ_LIMIT = (1 << 64) - 1
_SKIPPED = object()  # a declined early-data record was dropped
# The pseudo content type of an alert that arrived in the clear after the peer's keys were
# installed: never a clean close, only a failure (RFC 8446 5: once protection is engaged,
# only the compatibility change_cipher_spec may be unprotected).
UNPROTECTED_ALERT = 0x100 | ContentType.alert


# RFC 8446 5.5: rekey well before the AEAD confidentiality limits (2^24.5 for AES-GCM).
KEY_UPDATE_AFTER_RECORDS = 1 << 24


class _Protection:
    """One direction's AEAD state: key, static IV as an int, and the sequence number."""

    __slots__ = ("aead", "decrypt", "encrypt", "iv", "seq", "suite")

    def __init__(self, suite: Suite, key: bytes, iv: bytes) -> None:
        self.suite = suite
        self.aead = suite.aead(key)
        self.encrypt = self.aead.encrypt
        self.decrypt = self.aead.decrypt
        self.iv = int.from_bytes(iv, "big")
        self.seq = 0

    def next_nonce(self) -> bytes:
        seq = self.seq
        if seq >= _SEQ_LIMIT:
            raise UnexpectedMessage("sequence number would wrap; a new key is required")
        self.seq = seq + 1
        return (self.iv ^ seq).to_bytes(12, "big")


class _Protection12(_Protection):
    """TLS 1.2 AEAD (RFC 5288, 7905): AES-GCM carries an 8-byte explicit nonce in each
    record (we send the sequence number); ChaCha20-Poly1305 builds it like TLS 1.3."""

    __slots__ = ("explicit", "salt")

    def __init__(self, suite: Suite, key: bytes, iv: bytes) -> None:
        self.explicit = len(iv) == 4
        self.salt = iv
        super().__init__(suite, key, iv if not self.explicit else bytes(12))

    def nonce_for(self, seq: int, explicit: bytes = b"") -> bytes:
        if self.explicit:
            return self.salt + (explicit or seq.to_bytes(8, "big"))
        return (self.iv ^ seq).to_bytes(12, "big")


class RecordLayer:
    """Splits a byte stream into records and protects/unprotects them.

    Records are processed as soon as they are complete, so what a peer can make us hold
    unprocessed is at most one maximal record and its header.
    """

    def __init__(self) -> None:
        self._in = bytearray()
        self._pos = 0
        self._read: _Protection | None = None
        self._write: _Protection | None = None
        self._out: list[bytes] = []
        self.send_limit = MAX_PLAINTEXT      # the peer's record_size_limit, minus the type byte
        self.receive_limit = MAX_PLAINTEXT   # what we accept in one record's content
        self.legacy_version_out = 0x0303
        self.rekey_after = KEY_UPDATE_AFTER_RECORDS
        self._peer_protected = False  # a protected record from the peer has been read
        # 4.2.10: a server that declines 0-RTT skips the client's early data, up to a bound.
        self.early_data_skip = 0

    # -- keys -------------------------------------------------------------------------

    @property
    def read_protected(self) -> bool:
        return self._read is not None

    @property
    def write_protected(self) -> bool:
        return self._write is not None

    def set_read_key(self, suite: Suite, key: bytes, iv: bytes) -> None:
        self._read = _Protection(suite, key, iv)

    def set_write_key(self, suite: Suite, key: bytes, iv: bytes) -> None:
        self._write = _Protection(suite, key, iv)

    def clear_write_key(self) -> None:
        """Write in the clear again (a second ClientHello after 0-RTT was attempted)."""
        self._write = None

    def set_read_key12(self, suite: Suite, key: bytes, iv: bytes) -> None:
        self._read = _Protection12(suite, key, iv)

    def set_write_key12(self, suite: Suite, key: bytes, iv: bytes) -> None:
        self._write = _Protection12(suite, key, iv)

    @property
    def write_sequence(self) -> int:
        return self._write.seq if self._write else 0

    # -- reading -------------------------------------------------------------------------

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        if self._pos:  # drop what was consumed; what is left is less than one record
            del self._in[:self._pos]
            self._pos = 0
        self._in += data

    def take_input(self) -> bytes:
        rest = bytes(self._in[self._pos:])
        self._in.clear()
        self._pos = 0
        return rest

    @property
    def buffered(self) -> int:
        return len(self._in) - self._pos

    def next_record(self) -> tuple[int, bytes] | None:
        """The next complete record as (content type, plaintext), or None if incomplete."""
        while True:
            record = self._cut_record()
            if record is not _SKIPPED:
                return record  # type: ignore[return-value]

    def _cut_record(self) -> tuple[int, bytes] | object | None:
        buf = self._in
        pos = self._pos
        if len(buf) - pos < 5:
            return None
        ctype, version, length = HEADER.unpack_from(buf, pos)
        if version >> 8 != 3:
            raise DecodeError(f"record version {version:#06x} is not TLS")
        if ctype not in _KNOWN_TYPES:
            raise UnexpectedMessage(f"unknown record content type {ctype}")
        read = self._read
        if length > (MAX_CIPHERTEXT if read is not None else MAX_PLAINTEXT):
            raise RecordOverflow(f"record of {length} bytes exceeds the limit")
        end = pos + 5 + length
        if len(buf) < end:
            return None
        self._pos = end
        if read is None or ctype == ContentType.change_cipher_spec:
            if length == 0 and ctype == ContentType.change_cipher_spec:
                raise UnexpectedMessage("change_cipher_spec must carry the single byte 1")
            if length == 0 and ctype != _CT_APP:
                raise DecodeError(f"empty {ContentType(ctype).name} record")
            if ctype == _CT_APP and read is None:
                if self._skip_early(length):
                    return _SKIPPED
                raise UnexpectedMessage("application data before the keys are established")
            return ctype, bytes(buf[pos + 5:end])
        if isinstance(read, _Protection12):
            return self._open12(read, ctype, pos, end, length)
        if ctype != _CT_APP:
            if ctype == ContentType.alert and not self._peer_protected and length == 2:
                # A peer that failed on our flight may alert before it switched its own
                # write side (OpenSSL's client does). Marked, so the connection can
                # report it as the failure it names but never as a clean close.
                return UNPROTECTED_ALERT, bytes(buf[pos + 5:end])
            raise UnexpectedMessage(
                f"unprotected {ContentType(ctype).name} record after encryption started")
        if length < TAG_LENGTH + 1:
            raise BadRecordMac("protected record too short to hold a tag and a content type")
        view = memoryview(buf)
        try:
            plain = read.aead.decrypt(read.next_nonce(), view[pos + 5:end], view[pos:pos + 5])
        except InvalidTag:
            view.release()
            if self._skip_early(length):
                read.seq -= 1  # a skipped record does not consume a sequence number
                return _SKIPPED
            raise BadRecordMac("record failed authentication") from None
        view.release()
        self.early_data_skip = 0  # the first record that decrypts ends the skipping
        self._peer_protected = True
        return self._unpad(plain)

    def _open12(self, read: _Protection12, ctype: int, pos: int, end: int,
                length: int) -> tuple[int, bytes]:
        explicit_len = 8 if read.explicit else 0
        if length < explicit_len + TAG_LENGTH:
            raise BadRecordMac("protected record too short to hold a nonce and a tag")
        plain_len = length - explicit_len - TAG_LENGTH
        if plain_len > self.receive_limit:
            raise RecordOverflow(
                f"record plaintext of {plain_len} bytes exceeds {self.receive_limit}")
        buf = self._in
        seq = read.seq
        read.seq = seq + 1
        nonce = read.nonce_for(seq, bytes(buf[pos + 5:pos + 5 + explicit_len]))
        version = (buf[pos + 1] << 8) | buf[pos + 2]  # RFC 5246 6.2.3.3: as received
        aad = seq.to_bytes(8, "big") + HEADER.pack(ctype, version, plain_len)
        view = memoryview(buf)
        try:
            plain = read.aead.decrypt(nonce, view[pos + 5 + explicit_len:end], aad)
        except InvalidTag:
            raise BadRecordMac("record failed authentication") from None
        finally:
            view.release()
        if not plain and ctype != _CT_APP:
            raise UnexpectedMessage(f"empty {ContentType(ctype).name} record")
        return ctype, plain

    def _skip_early(self, length: int) -> bool:
        if not self.early_data_skip or self.early_data_skip < length:
            return False
        self.early_data_skip -= length
        return True

    def _unpad(self, plain: bytes) -> tuple[int, bytes]:
        # TLSInnerPlaintext: content || type || zeros. The type is the last non-zero byte.
        last = plain[-1]
        if last:
            end = len(plain) - 1
        else:
            end = len(plain.rstrip(b"\x00")) - 1
            if end < 0:
                raise UnexpectedMessage("protected record has no non-zero content type")
            last = plain[end]
        if len(plain) > self.receive_limit + 1:  # RFC 8449 4: type and padding count too
            raise RecordOverflow(
                f"record plaintext of {len(plain)} bytes exceeds {self.receive_limit + 1}")
        if last not in _KNOWN_TYPES or last == ContentType.change_cipher_spec:
            raise UnexpectedMessage(f"inner content type {last} not allowed")
        if end == 0 and last != _CT_APP:
            raise UnexpectedMessage(f"empty {ContentType(last).name} record")
        return last, plain[:end]

    # -- writing -------------------------------------------------------------------------
    # Output is a list of finished byte strings (headers and ciphertexts), joined once in
    # take_output(): cryptography's encrypt() on `bytes` is its fastest form.

    def write(self, ctype: int, data: bytes | bytearray | memoryview, padding: int = 0) -> None:
        """Queue `data` as one or more records of `ctype`, protected if a key is set."""
        w = self._write
        n = len(data)
        if w is None:
            version = self.legacy_version_out
            for start in range(0, max(n, 1), MAX_PLAINTEXT):
                chunk = bytes(data[start:start + MAX_PLAINTEXT])
                self._out += (HEADER.pack(ctype, version, len(chunk)), chunk)
            return
        limit = self.send_limit
        if type(w) is _Protection and not padding and 0 < n <= limit:
            self._seal13(w, ctype, data)  # the common case: one record, no padding
            return
        if n == 0:
            self._protect(w, ctype, b"", padding)
            return
        view = memoryview(data)
        for start in range(0, n, limit):
            self._protect(w, ctype, view[start:start + limit], padding)

    def _seal13(self, w: _Protection, ctype: int,
                chunk: bytes | bytearray | memoryview) -> None:
        seq = w.seq
        if seq >= _SEQ_LIMIT:
            raise UnexpectedMessage("sequence number would wrap; a new key is required")
        w.seq = seq + 1
        header = HEADER.pack(23, 0x0303, len(chunk) + 17)
        inner = chunk + _TYPE_BYTE[ctype] if type(chunk) is bytes else b"".join(
            (chunk, _TYPE_BYTE[ctype]))
        self._out += (header, w.encrypt((w.iv ^ seq).to_bytes(12, "big"), inner, header))

    def write_unprotected(self, ctype: int, data: bytes) -> None:
        """A plaintext record even after keys exist (the compatibility CCS)."""
        self._out += (HEADER.pack(ctype, 0x0303, len(data)), bytes(data))

    def _protect(self, w: _Protection, ctype: int, chunk: bytes | memoryview,
                 padding: int) -> None:
        if isinstance(w, _Protection12):
            self._protect12(w, ctype, chunk)
            return
        if not padding:
            self._seal13(w, ctype, chunk)
            return
        inner = b"".join((chunk, _TYPE_BYTE[ctype],
                          bytes(min(padding, self.send_limit - len(chunk)))))
        header = HEADER.pack(23, 0x0303, len(inner) + TAG_LENGTH)
        self._out += (header, w.encrypt(w.next_nonce(), inner, header))

    def _protect12(self, w: _Protection12, ctype: int, chunk: bytes | memoryview) -> None:
        seq = w.seq
        if seq >= _SEQ_LIMIT:
            raise UnexpectedMessage("sequence number would wrap; a new key is required")
        w.seq = seq + 1
        explicit = seq.to_bytes(8, "big") if w.explicit else b""
        n = len(chunk)
        header = HEADER.pack(ctype, 0x0303, len(explicit) + n + TAG_LENGTH)
        aad = seq.to_bytes(8, "big") + HEADER.pack(ctype, 0x0303, n)
        self._out += (header, explicit, w.encrypt(w.nonce_for(seq, explicit), bytes(chunk), aad))

    def take_output(self) -> bytes:
        out = self._out
        if not out:
            return b""
        data = b"".join(out)
        out.clear()
        return data

    # -- the application-data fast path --------------------------------------------------

    def bulk_sender(self, gate: Any, general: Callable[[Any], None]
                    ) -> Callable[[Any], None]:
        """A `send_data` for an established TLS 1.3 connection: one record, no padding,
        straight to the output list; anything else goes to `general`.

        A closure over the record layer's parts, because on the bulk path every attribute
        lookup and call shows: this saves about 0.5 us per 16 KiB record. `gate` is the
        connection; its `_fast_send` flag is cleared by close and errors.
        """
        out = self._out

        def send_data(data: Any) -> None:
            w = self._write
            n = len(data)
            if gate._fast_send and type(data) is bytes and 0 < n <= self.send_limit \
                    and type(w) is _Protection and w.seq < self.rekey_after:
                seq = w.seq
                w.seq = seq + 1
                header = _APPDATA_HEADER + (n + 17).to_bytes(2, "big")
                out.extend((header, w.encrypt((w.iv ^ seq).to_bytes(12, "big"), data + b"\x17",
                                              header)))
                return
            general(data)

        return send_data

    def bulk_receiver(self, gate: Any, partial: bytearray, event: Callable[[bytes], Any],
                      general: Callable[[Any], list[Any]]) -> Callable[[Any], list[Any]]:
        """A `receive_data` for an established TLS 1.3 connection: `data` that is exactly
        one application-data record is opened in place; everything else (several records,
        alerts, KeyUpdate, partial input, errors) goes to `general`, which reports any
        error. `partial` is the handshake reassembly buffer: no shortcut while it holds a
        fragment (RFC 8446 5.1)."""
        def receive_data(data: Any) -> list[Any]:
            n = len(data)
            if gate._fast_receive and type(data) is bytes and n > 21 and data[0] == 23 \
                    and n - 5 == (data[3] << 8) | data[4] and data[1] == 3 and not partial \
                    and n <= self.receive_limit + 22 and self._pos == len(self._in):
                read: _Protection = self._read  # type: ignore[assignment]  # 1.3 keys
                seq = read.seq  # 2^64 records cannot arrive: no wrap check needed here
                try:
                    plain = read.decrypt((read.iv ^ seq).to_bytes(12, "big"),
                                         memoryview(data)[5:], data[:5])
                except InvalidTag:
                    return general(data)
                if plain[-1] == 23:
                    read.seq = seq + 1
                    return [event(plain[:-1])] if len(plain) > 1 else []
            return general(data)

        return receive_data

    def open_app_records(self, data: bytes) -> tuple[list[bytes], int]:
        """Decrypt the leading TLS 1.3 application-data records of `data` in place.

        Stops at the first record that is incomplete, not application data, padded,
        oversized or unauthentic, and returns (plaintexts, bytes consumed); the general
        path then handles the rest, including reporting any error.
        """
        read = self._read
        out: list[bytes] = []
        if type(read) is not _Protection or self._pos != len(self._in):
            return out, 0
        n = len(data)
        seq = read.seq
        decrypt = read.aead.decrypt
        iv = read.iv
        limit = self.receive_limit + 1 + TAG_LENGTH
        pos = 0
        view = memoryview(data)  # no release needed: `bytes` cannot be resized
        while n - pos >= 5:
            length = (data[pos + 3] << 8) | data[pos + 4]
            end = pos + 5 + length
            if (end > n or data[pos] != 23 or data[pos + 1] != 3 or length > limit
                    or length <= TAG_LENGTH or seq >= _SEQ_LIMIT):
                break
            try:
                plain = decrypt((iv ^ seq).to_bytes(12, "big"), view[pos + 5:end],
                                data[pos:pos + 5])
            except InvalidTag:
                break
            if plain[-1] != 23:
                break  # a handshake message or alert, or padding: the general path
            seq += 1
            pos = end
            if len(plain) > 1:
                out.append(plain[:-1])
        read.seq = seq
        return out, pos

    @property
    def pending_output(self) -> int:
        return sum(map(len, self._out))
