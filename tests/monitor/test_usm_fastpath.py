"""The v3 fast path's shortcuts give the bytes the standard constructions give: AES-CFB128 decryption from an
ECB keystream equals cryptography's CFB mode, and HMAC with pads hashed once equals hmac.digest, for every
key size and hash the USM uses (the snmpd matrix in test_usm.py checks the whole path end to end)."""
import hmac
import os

import pytest
from cryptography.hazmat.decrepit.ciphers.modes import CFB
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

from dcops.monitor.snmp.usm import HASHES, _AesCfb, _Hmac


@pytest.mark.parametrize("key_len", [16, 24, 32])
def test_cfb_from_ecb_keystream_equals_cfb_mode(key_len):
    key = os.urandom(key_len)
    aes = _AesCfb(key)
    for n in [0, 1, 15, 16, 17, 31, 32, 33, 100, 1028, 1500, 65507]:
        iv, data = os.urandom(16), os.urandom(n)
        dec = Cipher(algorithms.AES(key), CFB(iv)).decryptor()
        assert aes.decrypt(iv, data) == dec.update(data) + dec.finalize(), n
        assert aes.decrypt(iv, aes.encrypt(iv, data)) == data, n
    # the ECB context is reused across messages: a second pass gives the same answers
    iv, data = b"\x01" * 16, bytes(range(200))
    assert aes.decrypt(iv, data) == aes.decrypt(iv, data)


@pytest.mark.parametrize("auth", sorted(HASHES))
def test_precomputed_hmac_equals_hmac_digest(auth):
    name, size = HASHES[auth]
    for key_len in (16, 20, 28, 32, 48, 64, 200):
        key, msg = os.urandom(key_len), os.urandom(777)
        mac = _Hmac(key, name, size)
        want = hmac.digest(key, msg, name)[:size]
        assert mac.digest(msg) == want
        assert mac.digest(memoryview(msg)[:100], msg[100:300], memoryview(msg)[300:]) == want
        assert mac.digest(msg) == want  # the pads are copied, never consumed
