"""A WS-Management (WinRM) replay server on 127.0.0.1 over HTTPS, for tests of `estate-agent winrm`.

It speaks the shell protocol pywinrm uses (Create, Command, Receive, Signal, Delete), answers with the
envelopes in tests/fixtures/winrm/ (see their SOURCE.md), and runs nothing: each `reg query` is
answered from a host fixture's recording of that command (tests/fixtures/hosts/<name>/commands/).
Basic authentication over TLS (a certificate from a throwaway CA); every command line received is
kept in `commands` so tests can check what was sent.
"""

from __future__ import annotations

import base64
import http.server
import ssl
import threading
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from estate.agent.hostaccess import command_fixture_name

FIXTURES = Path(__file__).resolve().parent / "fixtures"
ENVELOPES = FIXTURES / "winrm"
SHELL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
MISSING_KEY = b"ERROR: The system was unable to find the specified registry key or value.\r\n"
NS = {"a": "http://schemas.xmlsoap.org/ws/2004/08/addressing", "rsp": SHELL}


def split_windows_command_line(text: str) -> list[str]:
    """Arguments as CommandLineToArgvW reads them (quotes group; backslashes escape only before a quote)."""
    args: list[str] = []
    current: list[str] = []
    in_quotes = has_arg = False
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\":
            run = 0
            while index < len(text) and text[index] == "\\":
                run += 1
                index += 1
            if index < len(text) and text[index] == '"':
                current.append("\\" * (run // 2))
                if run % 2:
                    current.append('"')
                    index += 1
            else:
                current.append("\\" * run)
            has_arg = True
            continue
        if char == '"':
            in_quotes = not in_quotes
            has_arg = True
        elif char in " \t" and not in_quotes:
            if has_arg:
                args.append("".join(current))
            current, has_arg = [], False
        else:
            current.append(char)
            has_arg = True
        index += 1
    if has_arg:
        args.append("".join(current))
    return args


@dataclass
class Replay:
    """The recorded host answering, the account it accepts, and what it was asked."""

    host_dir: Path
    user: str
    password: str
    commands: list[list[str]] = field(default_factory=list)
    outputs: dict[str, tuple[bytes, bytes, int]] = field(default_factory=dict)

    def answer(self, argv: list[str]) -> tuple[bytes, bytes, int]:
        recording = self.host_dir / "commands" / command_fixture_name(argv)
        if argv[:2] != ["reg", "query"] or not recording.is_file():
            return b"", MISSING_KEY, 1
        return recording.read_bytes(), b"", 0


def _envelope(name: str, **values: str) -> bytes:
    text = (ENVELOPES / f"{name}.xml").read_text()
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text.encode()


def _handler(replay: Replay) -> type[http.server.BaseHTTPRequestHandler]:
    expected = "Basic " + base64.b64encode(f"{replay.user}:{replay.password}".encode()).decode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep test output clean
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.headers.get("Authorization") != expected:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="WSMAN"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            reply = self.dispatch(ET.fromstring(body))
            self.send_response(200)
            self.send_header("Content-Type", "application/soap+xml;charset=UTF-8")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def dispatch(self, root: ET.Element) -> bytes:
            action = (root.findtext(".//a:Action", "", NS) or "").rsplit("/", 1)[-1]
            relates = root.findtext(".//a:MessageID", "", NS) or ""
            if action == "Create":
                return _envelope("create_response", relates_to=relates, shell_id=str(uuid.uuid4()).upper())
            if action == "Command":
                command = root.findtext(".//rsp:Command", "", NS) or ""
                arguments = root.findtext(".//rsp:Arguments", "", NS) or ""
                argv = [command, *split_windows_command_line(arguments)]
                replay.commands.append(argv)
                command_id = str(uuid.uuid4()).upper()
                replay.outputs[command_id] = replay.answer(argv)
                return _envelope("command_response", relates_to=relates, command_id=command_id)
            if action == "Receive":
                stream = root.find(".//rsp:DesiredStream", NS)
                command_id = stream.get("CommandId", "") if stream is not None else ""
                stdout, stderr, code = replay.outputs.pop(command_id, (b"", b"", 0))
                # The output in two stdout chunks, as a real Receive can return it.
                half = len(stdout) // 2
                parts = [f'<rsp:Stream Name="stdout" CommandId="{command_id}">{base64.b64encode(chunk).decode()}'
                         "</rsp:Stream>" for chunk in (stdout[:half], stdout[half:]) if chunk]
                if stderr:
                    parts.append(f'<rsp:Stream Name="stderr" CommandId="{command_id}">'
                                 f"{base64.b64encode(stderr).decode()}</rsp:Stream>")
                parts += [f'<rsp:Stream Name="stdout" CommandId="{command_id}" End="true"></rsp:Stream>',
                          f'<rsp:Stream Name="stderr" CommandId="{command_id}" End="true"></rsp:Stream>']
                return _envelope("receive_response", relates_to=relates, command_id=command_id,
                                 streams="\n".join(parts), state="Done",
                                 exit_code=f"<rsp:ExitCode>{code}</rsp:ExitCode>")
            if action == "Signal":
                return _envelope("signal_response", relates_to=relates)
            return _envelope("delete_response", relates_to=relates)

    return Handler


@contextmanager
def winrm_server(host_dir: Path, cert: Path, key: Path, user: str, password: str) -> Iterator[tuple[int, Replay]]:
    """Serve `host_dir`'s recordings over WinRM on a free 127.0.0.1 port; yields (port, replay)."""
    replay = Replay(host_dir, user, password)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(replay))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, name="winrm-replay", daemon=True)
    thread.start()
    try:
        yield server.server_address[1], replay
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
