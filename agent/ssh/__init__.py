"""Agentless discovery over SSH: the SSHHost seam, target inventories, connection security and the sweep.

The defaults below live here, apart from the modules that use them, so that building the
`estate-agent` command line (which every run does) imports neither paramiko nor the inventory code.
"""

import os

# Workers mostly wait on the network, so 8 per core keep a 2-core box busy without thrashing.
DEFAULT_CONCURRENCY = max(4, min(32, 8 * (os.cpu_count() or 1)))
DEFAULT_HOST_TIMEOUT_S = 300.0
DEFAULT_COMMAND_TIMEOUT_S = 120.0
