"""Windows hosts without an agent: WinRM (WS-Management over HTTPS) behind the host-access seam."""
