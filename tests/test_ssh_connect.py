"""Secrets come only from a file or the environment, bounded, and never appear in an error."""

from __future__ import annotations

from pathlib import Path

import paramiko
import pytest

from estate.agent.ssh.connect import CredentialError, classify, read_password
from estate.agent.ssh.inventory import Target


def test_password_from_file_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "pw"
    secret.write_text("s3cret-value\n")
    assert read_password(Target(name="h", host="h", password_file=str(secret))) == "s3cret-value"
    monkeypatch.setenv("SCAN_PW", "from-env")
    assert read_password(Target(name="h", host="h", password_env="SCAN_PW")) == "from-env"
    assert read_password(Target(name="h", host="h")) is None


def test_unreadable_secrets_fail_the_host_without_showing_them(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MISSING_PW", raising=False)
    with pytest.raises(CredentialError, match=r"MISSING_PW.*is not set") as missing:
        read_password(Target(name="h", host="h", password_env="MISSING_PW"))
    assert classify(missing.value)[0] == "auth failed"
    huge = tmp_path / "huge"
    huge.write_text("x" * 5000)
    with pytest.raises(CredentialError, match="larger than 4096 bytes") as too_big:
        read_password(Target(name="h", host="h", password_file=str(huge)))
    assert "xxxx" not in str(too_big.value)
    not_text = tmp_path / "latin1"
    not_text.write_bytes(b"caf\xe9\n")
    with pytest.raises(CredentialError, match="not UTF-8 text"):
        read_password(Target(name="h", host="h", password_file=str(not_text)))
    with pytest.raises(CredentialError, match=r"password file .*nope"):
        read_password(Target(name="h", host="h", password_file=str(tmp_path / "nope")))


def _banner_error(cause: BaseException) -> paramiko.SSHException:
    """The exception paramiko's transport raises when reading the server's banner fails (as it builds it)."""
    try:
        try:
            raise cause
        except Exception as e:
            raise paramiko.SSHException("Error reading SSH protocol banner" + str(e)) from None
    except paramiko.SSHException as exc:
        exc.__context__ = cause
        return exc


def test_a_banner_that_never_comes_is_a_timeout_and_a_reset_is_a_drop() -> None:

    from estate.agent.ssh.connect import classify

    assert classify(_banner_error(TimeoutError()))[0] == "timeout"
    assert classify(_banner_error(ConnectionResetError(104, "Connection reset by peer")))[0] == "connection dropped"
