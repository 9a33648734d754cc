"""Agentless discovery over SSH: the SSHHost seam, target inventories, connection security and the sweep."""
