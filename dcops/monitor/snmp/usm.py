"""SNMPv3 User-based Security Model on the direct BER codec: the fast path for authPriv polling.

RFC 3412 §7.2 (response processing), RFC 3414 (USM: keys, discovery, timeliness, DES),
RFC 7860 (HMAC-SHA-2), RFC 3826 (AES-128-CFB), draft-blumenthal-aes-usm-04 (AES-192/256, the key
extension net-snmp implements: `AES192`, `AES256`) and draft-reeder-snmpv3-usm-3desede-00 (the
key extension Cisco and others use: `AES192C`, `AES256C`, net-snmp's AES-192-C / AES-256-C).

An answer is accepted only when it is a Response to an outstanding msgID, at the request's
security level (authPriv), from the discovered engine, for our user, with a valid HMAC, inside
the time window, decrypting to our context. Anything else is discarded and counted (see
transport.py); a Report at a lower level ends the request with the agent's complaint, but never
changes the engine ID, boots or time after discovery.
Why not pysnmp here: its generic engine spends ~1 ms of CPU per request; this path keeps a
request at tens of microseconds, so SNMPv3 polling costs about what v2c does.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import time
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

try:  # cryptography >= 47 keeps CFB and TripleDES under "decrepit" (they are what the RFCs specify)
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
    from cryptography.hazmat.decrepit.ciphers.modes import CFB
except ImportError:  # pragma: no cover - older cryptography
    from cryptography.hazmat.primitives.ciphers.algorithms import TripleDES
    from cryptography.hazmat.primitives.ciphers.modes import CFB

from . import ber
from .errors import Discard, SnmpError, SnmpRejected, SnmpTimeout, pdu_error
from .transport import dispatcher, exchange
from .verbs import PduVerbs

HASHES = {"MD5": ("md5", 12), "SHA": ("sha1", 12), "SHA224": ("sha224", 16), "SHA256": ("sha256", 24),
          "SHA384": ("sha384", 32), "SHA512": ("sha512", 48)}
#: privacy protocol -> (cipher, key bytes, key extension)
PRIVS = {"DES": ("des", 16, None), "AES": ("aes", 16, None), "AES128": ("aes", 16, None),
         "AES192": ("aes", 24, "blumenthal"), "AES256": ("aes", 32, "blumenthal"),
         "AES192C": ("aes", 24, "reeder"), "AES256C": ("aes", 32, "reeder")}

USM_REPORTS = {
    "1.3.6.1.6.3.15.1.1.1.0": ("usmStatsUnsupportedSecLevels", "the agent does not allow authPriv for user {user}"),
    "1.3.6.1.6.3.15.1.1.2.0": ("usmStatsNotInTimeWindows", "request outside the agent's time window"),
    "1.3.6.1.6.3.15.1.1.3.0": ("usmStatsUnknownUserNames", "user {user} is unknown to the agent"),
    "1.3.6.1.6.3.15.1.1.4.0": ("usmStatsUnknownEngineIDs", "the agent does not know our engine ID"),
    "1.3.6.1.6.3.15.1.1.5.0": ("usmStatsWrongDigests",
                               "authentication failed: wrong auth key or auth protocol for user {user}"),
    "1.3.6.1.6.3.15.1.1.6.0": ("usmStatsDecryptionErrors",
                               "the agent could not decrypt the request: wrong privacy key or privacy protocol"),
    "1.3.6.1.6.3.11.2.1.1.0": ("snmpUnknownSecurityModels", "the agent does not support the USM"),
    "1.3.6.1.6.3.11.2.1.2.0": ("snmpInvalidMsgs", "the agent found the request invalid"),
    "1.3.6.1.6.3.11.2.1.3.0": ("snmpUnknownPDUHandlers", "the agent has no handler for the request"),
    "1.3.6.1.6.3.12.1.4.0": ("snmpUnavailableContexts", "context {context} is unavailable"),
    "1.3.6.1.6.3.12.1.5.0": ("snmpUnknownContexts", "context {context} is unknown to the agent"),
}
#: msgMaxSize, msgFlags (authPriv, reportable) and msgSecurityModel (USM) of every request: constant bytes.
_GLOBAL_TAIL_AUTHPRIV = ber.enc_int(65507) + ber.tlv(ber.T_OCTETS, b"\x07") + ber.enc_int(3)
LEVELS = {0: "noAuthNoPriv", 1: "authNoPriv", 2: "invalid (priv without auth)", 3: "authPriv"}
AUTH_PRIV = 0x03
TIME_WINDOW = 150  # RFC 3414 §3.2 step 7b
MAX_BOOTS = 2147483647
SYS_UPTIME = "1.3.6.1.2.1.1.3.0"


def normalise_priv(name: str) -> str:
    """`AES-256-C` (net-snmp's spelling), `aes256c` ... -> `AES256C`."""
    return name.upper().replace("-", "").replace("_", "")


def normalise_auth(name: str) -> str:
    return name.upper().replace("-", "").replace("_", "")


def supports(auth_protocol: str, priv_protocol: str) -> bool:
    return normalise_auth(auth_protocol) in HASHES and normalise_priv(priv_protocol) in PRIVS


@lru_cache(maxsize=256)
def password_to_key(password: bytes, hash_name: str) -> bytes:
    """RFC 3414 A.2: hash of the password repeated to 1 MiB."""
    if not password:
        raise SnmpError("empty SNMPv3 passphrase")
    reps = 1048576 // len(password) + 1
    return hashlib.new(hash_name, (password * reps)[:1048576]).digest()


def localize_key(ku: bytes, hash_name: str, engine_id: bytes) -> bytes:
    return hashlib.new(hash_name, ku + engine_id + ku).digest()


@lru_cache(maxsize=4096)
def localize(password: str, hash_name: str, engine_id: bytes) -> bytes:
    return localize_key(password_to_key(password.encode(), hash_name), hash_name, engine_id)


@lru_cache(maxsize=4096)
def priv_key(password: str, hash_name: str, engine_id: bytes, priv: str) -> bytes:
    """The localised privacy key of `priv`, extended to the cipher's key size when the hash is short.

    Blumenthal (net-snmp's AES-192/AES-256): Kul || H(Kul) || H(Kul || H(Kul)) ...
    Reeder (Cisco's, net-snmp's AES-192-C/AES-256-C): Kul || localize(password_to_key(Kul)) ...
    """
    _cipher, size, ext = PRIVS[priv]
    key = localize(password, hash_name, engine_id)
    while len(key) < size:
        if ext == "blumenthal":
            key += hashlib.new(hash_name, key).digest()
        else:
            key += localize_key(password_to_key(key, hash_name), hash_name, engine_id)
    return key[:size]


class _Hmac:
    """HMAC (RFC 2104) with the key's inner and outer pads hashed once per engine: every message of a
    session is authenticated with the same localized key, so only the message itself is hashed."""

    __slots__ = ("inner", "outer", "size")

    def __init__(self, key: bytes, hash_name: str, size: int) -> None:
        inner, outer = hashlib.new(hash_name), hashlib.new(hash_name)
        if len(key) > inner.block_size:
            key = hashlib.new(hash_name, key).digest()
        key = key.ljust(inner.block_size, b"\x00")
        inner.update(bytes(b ^ 0x36 for b in key))
        outer.update(bytes(b ^ 0x5C for b in key))
        self.inner, self.outer, self.size = inner, outer, size

    def digest(self, *parts) -> bytes:
        h = self.inner.copy()
        for part in parts:
            h.update(part)
        o = self.outer.copy()
        o.update(h.digest())
        return o.digest()[:self.size]


class _AesCfb:
    """AES-CFB128 (RFC 3826) over one AES-ECB context per key. Decryption needs no new cipher object per
    message: its keystream is AES(IV || C1 .. Cn-1), one ECB call, then one XOR. Encryption (small requests)
    keeps cryptography's CFB mode."""

    __slots__ = ("algo", "ecb")

    def __init__(self, key: bytes) -> None:
        self.algo = algorithms.AES(key)
        self.ecb = Cipher(self.algo, modes.ECB()).encryptor()  # noqa: S305 - the CFB keystream, not ECB use

    def encrypt(self, iv: bytes, plain: bytes) -> bytes:
        enc = Cipher(self.algo, CFB(iv)).encryptor()
        return enc.update(plain) + enc.finalize()

    def decrypt(self, iv: bytes, data: bytes) -> bytes:
        n = len(data)
        if not n:
            return b""
        stream = self.ecb.update((iv + data)[:-(-n // 16) * 16])
        return (int.from_bytes(data, "big") ^ int.from_bytes(stream[:n], "big")).to_bytes(n, "big")


def _scoped(ctx_engine: bytes, ctx_name: bytes, pdu: bytes) -> bytes:
    return ber.tlv(ber.T_SEQ, ber.tlv(ber.T_OCTETS, ctx_engine) + ber.tlv(ber.T_OCTETS, ctx_name) + pdu)


class _Msg:
    """The fields of an SNMPv3 message, with offsets of the parts the checks need."""

    __slots__ = ("msg_id", "flags", "engine_id", "boots", "time", "user", "auth_s", "auth_e", "priv", "data",
                 "encrypted")


def parse_message(raw: bytes) -> _Msg:
    """Header and security parameters of an SNMPv3 message (RFC 3412 §6, RFC 3414 §2.4); BerError
    when it is not one."""
    m = _Msg()
    tag, s, e = ber._hdr(raw, 0)
    if tag != ber.T_SEQ:
        raise ber.BerError("not an SNMP message")
    version, b = ber._int_field(raw, s, e, "msgVersion")
    if version != 3:
        raise ber.BerError(f"SNMP version {version + 1 if version in (0, 1) else version} instead of 3")
    tag, gs, ge = ber._hdr(raw, b, e)
    if tag != ber.T_SEQ:
        raise ber.BerError("msgGlobalData is not a SEQUENCE")
    m.msg_id, b = ber._int_field(raw, gs, ge, "msgID")
    _max, b = ber._int_field(raw, b, ge, "msgMaxSize")
    tag, fa, fb = ber._hdr(raw, b, ge)
    if tag != ber.T_OCTETS or fb - fa != 1:
        raise ber.BerError("msgFlags is not one octet")
    m.flags = raw[fa]
    model, b = ber._int_field(raw, fb, ge, "msgSecurityModel")
    if model != 3:
        raise ber.BerError(f"security model {model}, not USM (3)")
    tag, ss, se = ber._hdr(raw, ge, e)
    if tag != ber.T_OCTETS:
        raise ber.BerError("msgSecurityParameters is not an OCTET STRING")
    tag, qs, qe = ber._hdr(raw, ss, se)
    if tag != ber.T_SEQ:
        raise ber.BerError("UsmSecurityParameters is not a SEQUENCE")
    tag, a, b = ber._hdr(raw, qs, qe)
    if tag != ber.T_OCTETS or b - a > 32:
        raise ber.BerError("bad msgAuthoritativeEngineID")
    m.engine_id = raw[a:b]
    m.boots, b = ber._int_field(raw, b, qe, "msgAuthoritativeEngineBoots")
    m.time, b = ber._int_field(raw, b, qe, "msgAuthoritativeEngineTime")
    if not (0 <= m.boots <= MAX_BOOTS and 0 <= m.time <= MAX_BOOTS):
        raise ber.BerError("engine boots/time outside 0..2^31-1")
    tag, a, b = ber._hdr(raw, b, qe)
    if tag != ber.T_OCTETS or b - a > 32:
        raise ber.BerError("bad msgUserName")
    m.user = raw[a:b]
    tag, m.auth_s, m.auth_e = ber._hdr(raw, b, qe)
    if tag != ber.T_OCTETS:
        raise ber.BerError("bad msgAuthenticationParameters")
    tag, a, b = ber._hdr(raw, m.auth_e, qe)
    if tag != ber.T_OCTETS or b != qe:
        raise ber.BerError("bad msgPrivacyParameters")
    m.priv = raw[a:b]
    tag, ds, de = ber._hdr(raw, se, e)
    if de != e:
        raise ber.BerError("data after the scoped PDU")
    m.encrypted = tag == ber.T_OCTETS
    if not m.encrypted and tag != ber.T_SEQ:
        raise ber.BerError("msgData is neither a scoped PDU nor an encrypted one")
    m.data = raw[ds:de] if m.encrypted else raw[se:de]
    return m


def parse_scoped(scoped: bytes) -> tuple[bytes, bytes, tuple]:
    """(contextEngineID, contextName, decoded PDU) of a plaintext ScopedPDU."""
    tag, s, e = ber._hdr(scoped, 0)
    if tag != ber.T_SEQ:
        raise ber.BerError("scoped PDU is not a SEQUENCE")
    tag, a1, b1 = ber._hdr(scoped, s, e)
    if tag != ber.T_OCTETS:
        raise ber.BerError("bad contextEngineID")
    tag, a2, b2 = ber._hdr(scoped, b1, e)
    if tag != ber.T_OCTETS:
        raise ber.BerError("bad contextName")
    return scoped[a1:b1], scoped[a2:b2], ber.decode_pdu(scoped, b2, e)


class _Report(Exception):
    """A Report PDU in answer to a request: (OID, authenticated)."""

    def __init__(self, oid: str, authenticated: bool, boots: int = 0, etime: int = 0) -> None:
        super().__init__(oid)
        self.oid, self.authenticated, self.boots, self.time = oid, authenticated, boots, etime


class V3FastSession(PduVerbs):
    max_get = 40
    max_bulk_varbinds = 48

    def __init__(self, host: str, port: int, creds, timeout: float = 2.0, retries: int = 1) -> None:
        if not (creds.user and creds.auth_key and creds.priv_key):
            raise SnmpError("SNMPv3 authPriv needs a user, an auth key and a priv key")
        auth, priv = normalise_auth(creds.auth_protocol), normalise_priv(creds.priv_protocol)
        if auth not in HASHES:
            raise SnmpError(f"unknown SNMPv3 auth protocol {creds.auth_protocol!r} (known: {', '.join(HASHES)})")
        if priv not in PRIVS:
            raise SnmpError(f"unknown SNMPv3 privacy protocol {creds.priv_protocol!r} (known: {', '.join(PRIVS)})")
        self.addr = (host, port)
        self.where = f"{host}:{port}"
        self.user = creds.user.encode()
        self.hash_name, self.mac_len = HASHES[auth]
        self.priv = priv
        self.cipher = PRIVS[priv][0]
        self.auth_pw, self.priv_pw = creds.auth_key, creds.priv_key
        self.context = (creds.context or "").encode()
        self.timeout, self.retries = timeout, retries
        self.requests = 0
        self.discarded = 0
        self.engine_id: bytes | None = None
        self.boots = 0
        self.latest_time = 0  # latestReceivedEngineTime (RFC 3414 §2.3)
        self.time_base = 0.0  # local monotonic time when the engine's time was 0
        self._rediscover = False
        self._boots_back = False  # an authentic answer came from an earlier boot (see _authentic)
        self._salt = int.from_bytes(os.urandom(8), "big")
        self._akey = self._pkey = b""
        self._mac: _Hmac | None = None
        self._aes: _AesCfb | None = None
        self._eng_tlv = b""  # the engine's parts of every message, encoded once per engine
        self._user_auth = ber.tlv(ber.T_OCTETS, self.user) + ber.tlv(ber.T_OCTETS, b"\x00" * self.mac_len)
        self._ctx_head: dict[bytes, bytes] = {}

    def _fmt(self, text: str) -> str:
        return text.format(user=repr(self.user.decode(errors="replace")),
                           context=repr(self.context.decode(errors="replace")))

    # ---------------------------------------------------------------- discovery (RFC 3414 §4)
    def _accept_discovery(self, msg_id: int, raw: bytes) -> tuple[bytes, int, int]:
        m = parse_message(raw)
        if m.msg_id != msg_id:
            raise Discard(f"msgID {m.msg_id} instead of {msg_id}")
        if m.encrypted or m.flags & 0x03:
            raise Discard(f"discovery answered at security level {LEVELS[m.flags & 3]}")
        _ce, _cn, (ptype, *_rest) = parse_scoped(m.data)
        if ptype != ber.REPORT:
            raise Discard(f"PDU type 0x{ptype:02x} in answer to discovery (a Report was expected)")
        if not 5 <= len(m.engine_id) <= 32:
            raise Discard(f"engine ID of {len(m.engine_id)} bytes (RFC 3411: 5 to 32)")
        return m.engine_id, m.boots, m.time

    async def _discover(self, timeout: float | None = None, retries: int | None = None) -> tuple[bytes, int, int]:
        d = await dispatcher()
        msg_id = d.next_id()
        sec = ber.tlv(ber.T_SEQ, ber.tlv(ber.T_OCTETS, b"") + ber.enc_int(0) + ber.enc_int(0) +
                      ber.tlv(ber.T_OCTETS, b"") + ber.tlv(ber.T_OCTETS, b"") + ber.tlv(ber.T_OCTETS, b""))
        pdu = ber.encode_pdu(ber.GET, msg_id, [])
        msg = self._message(msg_id, 0x04, ber.tlv(ber.T_OCTETS, sec), _scoped(b"", b"", pdu))
        return await exchange(self.addr, msg, msg_id, lambda raw: self._accept_discovery(msg_id, raw),
                              self.timeout if timeout is None else timeout,
                              self.retries if retries is None else retries, self)

    def _set_engine(self, engine_id: bytes, boots: int, etime: int) -> None:
        if engine_id != self.engine_id:
            self.engine_id = engine_id
            self._akey = localize(self.auth_pw, self.hash_name, engine_id)
            self._pkey = priv_key(self.priv_pw, self.hash_name, engine_id, self.priv)
            self._mac = _Hmac(self._akey, self.hash_name, self.mac_len)
            self._aes = _AesCfb(self._pkey) if self.cipher == "aes" else None
            self._eng_tlv = ber.tlv(ber.T_OCTETS, engine_id)
            self._ctx_head = {}
        self.boots, self.latest_time = boots, etime
        self.time_base = time.monotonic() - etime

    # ---------------------------------------------------------------- messages
    @staticmethod
    def _message(msg_id: int, flags: int, sec: bytes, data: bytes) -> bytes:
        glob = ber.tlv(ber.T_SEQ, ber.enc_int(msg_id) + ber.enc_int(65507) + ber.tlv(ber.T_OCTETS, bytes((flags,)))
                       + ber.enc_int(3))
        return ber.tlv(ber.T_SEQ, ber.enc_int(3) + glob + sec + data)

    def _encrypt(self, plain: bytes, etime: int) -> tuple[bytes, bytes]:
        self._salt = (self._salt + 1) & 0xFFFFFFFFFFFFFFFF
        if self.cipher == "aes":
            salt = self._salt.to_bytes(8, "big")
            iv = self.boots.to_bytes(4, "big") + etime.to_bytes(4, "big") + salt
            return self._aes.encrypt(iv, plain), salt
        # DES-CBC (RFC 3414 §8.1.1): salt = engineBoots || local counter; IV = pre-IV XOR salt
        salt = self.boots.to_bytes(4, "big") + (self._salt & 0xFFFFFFFF).to_bytes(4, "big")
        iv = bytes(a ^ b for a, b in zip(self._pkey[8:16], salt))
        plain += b"\x00" * (-len(plain) % 8)
        enc = Cipher(TripleDES(self._pkey[:8] * 3), modes.CBC(iv)).encryptor()
        return enc.update(plain) + enc.finalize(), salt

    def _decrypt(self, m: _Msg) -> bytes:
        if len(m.priv) != 8:
            raise Discard(f"privacy parameters of {len(m.priv)} bytes (8 expected)", "malformed")
        if self.cipher == "aes":
            return self._aes.decrypt(m.boots.to_bytes(4, "big") + m.time.to_bytes(4, "big") + m.priv, m.data)
        if len(m.data) % 8:
            raise Discard("DES ciphertext not a multiple of 8 bytes", "malformed")
        iv = bytes(a ^ b for a, b in zip(self._pkey[8:16], m.priv))
        dec = Cipher(TripleDES(self._pkey[:8] * 3), modes.CBC(iv)).decryptor()
        return dec.update(m.data) + dec.finalize()

    def _build(self, msg_id: int, pdu: bytes, context: bytes) -> bytes:
        """The authPriv request: what does not change between messages of an engine is encoded once."""
        etime = max(0, min(MAX_BOOTS, int(time.monotonic() - self.time_base)))
        head = self._ctx_head.get(context)
        if head is None:
            head = self._ctx_head[context] = self._eng_tlv + ber.tlv(ber.T_OCTETS, context)
        data, salt = self._encrypt(ber.tlv(ber.T_SEQ, head + pdu), etime)
        data = ber.tlv(ber.T_OCTETS, data)
        sec = ber.tlv(ber.T_OCTETS, ber.tlv(ber.T_SEQ, self._eng_tlv + ber.enc_int(self.boots) + ber.enc_int(etime) +
                                             self._user_auth + b"\x04\x08" + salt))
        glob = ber.tlv(ber.T_SEQ, ber.enc_int(msg_id) + _GLOBAL_TAIL_AUTHPRIV)
        msg = ber.tlv(ber.T_SEQ, b"\x02\x01\x03" + glob + sec + data)
        pos = len(msg) - len(data) - 10 - self.mac_len  # the auth parameters come right before the salt's TLV
        return msg[:pos] + self._mac.digest(msg) + msg[pos + self.mac_len:]

    # ---------------------------------------------------------------- the checks (RFC 3412 §7.2, 3414 §3.2)
    def _authentic(self, m: _Msg, raw: bytes) -> None:
        if m.engine_id != self.engine_id:
            raise Discard(f"answer from engine {m.engine_id.hex() or '(none)'}, not the discovered "
                          f"{self.engine_id.hex()}")
        if m.user != self.user:
            raise Discard(f"answer for user {m.user.decode(errors='replace')!r}")
        if m.auth_e - m.auth_s != self.mac_len:
            raise Discard(f"authentication parameters of {m.auth_e - m.auth_s} bytes ({self.mac_len} expected)")
        view = memoryview(raw)
        expect = self._mac.digest(view[:m.auth_s], self._user_auth[-self.mac_len:], view[m.auth_e:])
        if not hmac.compare_digest(raw[m.auth_s:m.auth_e], expect):
            raise Discard("HMAC does not verify (forged, or another auth key)")
        # Timeliness (RFC 3414 §3.2 step 7b): follow the clock only forwards, on authentic answers.
        if m.boots > self.boots or (m.boots == self.boots and m.time > self.latest_time):
            self.boots, self.latest_time = m.boots, m.time
            self.time_base = time.monotonic() - m.time
        if m.boots < self.boots and m.boots != MAX_BOOTS:
            # An authentic answer from an earlier boot: a replay, or an agent whose boots counter was reset
            # (its persistent store lost) under the same engine ID. Never adopt it (RFC 3414 §3.2 step 7b);
            # discover the engine afresh instead, where a replay gains nothing: the requests then carry the
            # discovered clock, and the real agent's authentic answer or time-window report sets it.
            self._boots_back = True
        if self.boots == MAX_BOOTS or m.boots < self.boots or \
                (m.boots == self.boots and m.time < self.latest_time - TIME_WINDOW):
            raise Discard(f"outside the time window (boots {m.boots}, time {m.time}; "
                          f"engine at boots {self.boots}, time {self.latest_time})")

    def _accept(self, msg_id: int, context: bytes, raw: bytes):
        m = parse_message(raw)
        if m.msg_id != msg_id:
            raise Discard(f"msgID {m.msg_id} instead of {msg_id}")
        level = m.flags & 0x03
        if level != AUTH_PRIV:
            return self._lower_level(m, raw, level, msg_id)
        if not m.encrypted:
            raise Discard("authPriv answer with a plaintext scoped PDU", "malformed")
        self._authentic(m, raw)
        plain = self._decrypt(m)
        try:
            ctx_engine, ctx_name, pdu = parse_scoped(plain)
        except ber.BerError as e:  # authentic (the HMAC verified) yet undecryptable: our priv key is off
            raise SnmpError(f"{self.where}: authenticated response could not be decrypted ({e}): wrong "
                            f"privacy key or privacy protocol ({self.priv}) for user "
                            f"{self.user.decode(errors='replace')!r}") from e
        ptype, rid, err, eidx, vbs = pdu
        if ctx_engine != self.engine_id or ctx_name != context:
            raise Discard(f"answer for context {ctx_name.decode(errors='replace')!r} of engine {ctx_engine.hex()}")
        if ptype == ber.REPORT:
            raise _Report(vbs[0][0] if vbs else "", True, m.boots, m.time)
        if ptype != ber.RESPONSE:
            raise Discard(f"PDU type 0x{ptype:02x} instead of a Response")
        if rid != msg_id:
            raise Discard(f"request-id {rid} instead of {msg_id}")
        return err, eidx, vbs

    def _lower_level(self, m: _Msg, raw: bytes, level: int, msg_id: int):
        """An answer below authPriv: only a Report may be (RFC 3412 §7.2 step 12); it tells what the
        agent disliked, and an unauthenticated one changes nothing of the engine we know."""
        mismatch = f"security level {LEVELS[level]} in answer to an authPriv request"
        if level == 2 or m.encrypted:
            raise Discard(mismatch)
        try:
            _ce, _cn, (ptype, _rid, _err, _eidx, vbs) = parse_scoped(m.data)
        except ber.BerError:
            raise Discard(mismatch) from None
        if ptype != ber.REPORT:
            raise Discard(mismatch)
        if level == 1:
            self._authentic(m, raw)
        raise _Report(vbs[0][0] if vbs else "", level == 1, m.boots, m.time)

    def _accept_wrapped(self, msg_id: int, context: bytes, raw: bytes):
        try:
            return self._accept(msg_id, context, raw)
        except _Report as r:
            return r

    # ---------------------------------------------------------------- requests
    async def _request(self, pdu_type: int, oids: list[str], a: int = 0, b: int = 0, values=None) -> list:
        return await self._send(pdu_type, oids, a, b, values, self.context)

    async def _send(self, pdu_type: int, oids: list[str], a: int, b: int, values, context: bytes,
                    diagnose: bool = True) -> list:
        if self.engine_id is None or self._rediscover:
            self._set_engine(*await self._discover())
            self._rediscover = False
        d = await dispatcher()
        for attempt in (0, 1):
            msg_id = d.next_id()
            msg = self._build(msg_id, ber.encode_pdu(pdu_type, msg_id, oids, a, b, values), context)
            try:
                res = await exchange(self.addr, msg, msg_id,
                                     lambda raw, i=msg_id: self._accept_wrapped(i, context, raw),
                                     self.timeout, self.retries, self)
            except SnmpRejected:
                if not self._boots_back or attempt:
                    raise
                self._boots_back = False  # the agent restarted counting boots: discover it and ask once more
                self._set_engine(*await self._discover())
                continue
            except SnmpTimeout:
                if not diagnose:
                    raise
                raise SnmpTimeout(await self._diagnose()) from None
            if not isinstance(res, _Report):
                err, eidx, vbs = res
                if err:
                    raise pdu_error(err, eidx, oids)
                return vbs
            name, text = USM_REPORTS.get(res.oid, (res.oid or "unknown report", "the agent refused the request"))
            if res.authenticated and name == "usmStatsNotInTimeWindows" and attempt == 0:
                self.boots, self.latest_time = res.boots, res.time  # authentic: RFC 3414 §4 time sync
                self.time_base = time.monotonic() - res.time
                continue
            if name == "usmStatsUnknownEngineIDs" and not res.authenticated:
                self._rediscover = True  # discover again next time; never adopt the report's engine
            tail = "" if res.authenticated else ", unauthenticated report"
            err = SnmpError(f"{self.where}: SNMPv3 {self._fmt(text)} ({name}{tail})")
            err.authentic = res.authenticated
            raise err
        raise SnmpError(f"{self.where}: SNMPv3 request outside the agent's time window after a resync "
                        "(usmStatsNotInTimeWindows)")

    async def _diagnose(self) -> str:
        """Why authenticated requests go unanswered. net-snmp drops, without a report, a request it
        cannot decrypt and one for a context it does not serve; tell the two apart by asking again."""
        try:
            await self._discover(retries=0)
        except SnmpError:
            return f"no response from {self.where}"
        user = self.user.decode(errors="replace")
        if self.context:
            try:
                await self._send(ber.GET, [SYS_UPTIME], 0, 0, None, b"", diagnose=False)
                ok = True
            except SnmpTimeout:
                ok = False
            except SnmpError as e:
                if not e.authentic:  # refused unauthenticated (unknown user, wrong digest, ...): that is why
                    return (f"no response from {self.where} in SNMPv3 context "
                            f"{self.context.decode(errors='replace')!r}; in the default context: {e}")
                ok = True  # an authentic error answer: the keys are right
            if ok:
                return (f"no response from {self.where} in SNMPv3 context {self.context.decode(errors='replace')!r}: "
                        f"the agent answers user {user!r} in the default context, so the context is unknown "
                        "to it or not allowed for the user")
        return (f"no response from {self.where} to authenticated requests, though it answers discovery: "
                f"wrong privacy key or privacy protocol ({self.priv}) for user {user!r} "
                "(the agent drops what it cannot decrypt), or no access for the user")
