"""The one file/bytes hashing: same bytes, same digest; any change, another digest."""
import hashlib
import os

from analysis.hashing import bytes_digest, file_digest, file_digest_memo


def test_file_and_bytes_digests_agree_with_sha256(tmp_path):
    data = os.urandom(5 * (1 << 20) + 7)  # more than one streamed chunk
    p = tmp_path / "w.bin"
    p.write_bytes(data)
    full = hashlib.sha256(data).hexdigest()
    assert file_digest(p, None) == full and file_digest(p) == full[:16]
    assert bytes_digest(data) == full[:16] and bytes_digest(data, None) == full


def test_memoised_digest_notices_a_changed_file(tmp_path):
    p = tmp_path / "img.png"
    p.write_bytes(b"first")
    a = file_digest_memo(p)
    assert file_digest_memo(p) == a == bytes_digest(b"first")
    p.write_bytes(b"second, longer")  # size (and mtime) change: the memo must not answer
    assert file_digest_memo(p) == bytes_digest(b"second, longer") != a
