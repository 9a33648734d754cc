"""The real programs the integration tests run, found one way; a missing one is a setup error, never a skip.

`make test` installs them (Makefile SYSTEM_PACKAGES). Looking only at PATH missed sshd for users
whose PATH has no sbin, and looking only at /usr/sbin missed it elsewhere: both places are searched.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

# program -> the Debian package that provides it
PACKAGES = {
    "sshd": "openssh-server",
    "ssh-keygen": "openssh-client",
    "snmpd": "snmpd",
    "snmpget": "snmp",
    "rpmbuild": "rpm",
    "rpm": "rpm",
    "db5.3_load": "db5.3-util",
}
SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/local/sbin", "/usr/sbin", "/sbin"])


class MissingProgram(RuntimeError):
    """A real component the tests need is not installed on this machine."""


def program(name: str) -> str:
    """The path of a system program from PACKAGES; raises MissingProgram naming its package."""
    found = shutil.which(name, path=SEARCH_PATH)
    if found is None:
        raise MissingProgram(f"{name} is not installed: the tests run the real one (Debian package "
                             f"{PACKAGES[name]}; `make system-packages` installs it as root)")
    return found


def venv_program(name: str) -> str:
    """The path of a console script installed beside this Python (the dev extra), or MissingProgram."""
    path = Path(sys.executable).with_name(name)
    if not path.exists():
        raise MissingProgram(f"{name} is not installed beside {sys.executable}: run `make setup` "
                             "(the dev extra installs it)")
    return str(path)
