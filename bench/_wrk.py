"""HTTP load from ``wrk``, a C load generator, so the figures measure the
server and not the client (a Python client tops out far below what the server
can answer)."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

# Runs in every wrk thread: counts answers whose body holds ``ACK`` (when the
# script sets it), and prints one JSON line at the end.
_REPORT = """
acked = 0
local threads = {}
setup = function(thread) table.insert(threads, thread) end
if ACK then
  response = function(status, headers, body)
    if string.find(body, ACK, 1, true) then acked = acked + 1 end
  end
end
done = function(summary, latency, requests)
  local total_acked = 0
  for _, thread in ipairs(threads) do total_acked = total_acked + (thread:get("acked") or 0) end
  local e = summary.errors
  io.write(string.format(
    '\\nWRK_JSON {"requests": %d, "duration_us": %d, "socket_errors": %d, "non2xx": %d, '
    .. '"p50_us": %d, "p99_us": %d, "acked": %d}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99), total_acked))
end
"""


@dataclass
class WrkResult:
    requests: int
    seconds: float
    socket_errors: int
    non2xx: int
    p50_ms: float
    p99_ms: float
    acked: int

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    @property
    def acked_rate(self) -> float:
        return self.acked / self.seconds


def require_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit(
            "wrk is not installed: these benchmarks need it to load the server "
            "(`make bench` installs it with apt-get when it may; else `apt-get install wrk`)"
        )
    return path


def lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid Lua string literal for our values


def lua_list(values: list[str]) -> str:
    return "{" + ", ".join(lua_string(v) for v in values) + "}"


def rotating_requests(
    method: str, path: str, headers: list[dict[str, str]], bodies: list[str] | None = None
) -> str:
    """A wrk script whose requests take their headers (and bodies) in turn."""
    header_tables = (
        "{"
        + ", ".join(
            "{" + ", ".join(f"[{lua_string(k)}] = {lua_string(v)}" for k, v in h.items()) + "}"
            for h in headers
        )
        + "}"
    )
    body_list = lua_list(bodies) if bodies else "{}"
    return f"""
local all_headers = {header_tables}
local all_bodies = {body_list}
local n = math.random(0, 100000)
request = function()
  n = n + 1
  local headers = all_headers[(n % #all_headers) + 1]
  local body = nil
  if #all_bodies > 0 then body = all_bodies[(n % #all_bodies) + 1] end
  return wrk.format({lua_string(method)}, {lua_string(path)}, headers, body)
end
"""


def run_wrk(
    url: str,
    *,
    connections: int,
    seconds: float,
    script: str = "",
    threads: int = 2,
    ack: str | None = None,
    timeout: float = 10.0,
) -> WrkResult:
    """Load ``url`` for ``seconds`` with ``connections`` requests in flight."""
    wrk = require_wrk()
    prelude = f"ACK = {lua_string(ack)}\n" if ack else ""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(prelude + script + _REPORT)
        script_path = Path(handle.name)
    try:
        completed = subprocess.run(
            [
                wrk,
                f"-t{min(threads, connections)}",
                f"-c{connections}",
                f"-d{max(1, round(seconds))}s",
                f"--timeout={timeout:g}s",
                "-s",
                str(script_path),
                url,
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=seconds + timeout + 30,
        )
    finally:
        script_path.unlink(missing_ok=True)
    for line in completed.stdout.splitlines():
        if line.startswith("WRK_JSON "):
            data = json.loads(line.removeprefix("WRK_JSON "))
            return WrkResult(
                requests=data["requests"],
                seconds=data["duration_us"] / 1e6,
                socket_errors=data["socket_errors"],
                non2xx=data["non2xx"],
                p50_ms=data["p50_us"] / 1000,
                p99_ms=data["p99_us"] / 1000,
                acked=data["acked"],
            )
    raise SystemExit(f"wrk gave no report:\n{completed.stdout}\n{completed.stderr}")
