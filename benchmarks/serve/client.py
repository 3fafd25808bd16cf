"""HTTP load clients: a minimal keep-alive HTTP/1.1 client on asyncio streams, and httpx."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import httpx

from .plan import JSON_HEADERS, TIMEOUT_S


class LoadError(Exception):
    """A request got no HTTP answer (refused, reset, timed out, garbled)."""


def shares(pids: Counter[int]) -> str:
    """Connections per worker, e.g. '8/8'."""
    return "/".join(str(count) for count in sorted(pids.values(), reverse=True))


class Pool:
    """``size`` keep-alive connections to one server; ``post`` waits for a free one."""

    size = 0

    async def prepare(self, workers: int) -> str:
        """Open the connections; how they landed on the workers (from /bare's pid), '9/7'."""
        answers = await asyncio.gather(*(self.post("/bare", b"{}") for _ in range(self.size)))
        return shares(Counter(json.loads(body)["pid"] for status, body in answers if status == 200))

    async def post(
        self, path: str, body: bytes, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        raise NotImplementedError

    async def aclose(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Pool:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()


class RawConnection:
    """One keep-alive HTTP/1.1 connection: a request, then its answer (Content-Length bodies)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        lines = [f"POST {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        lines += [f"Content-Length: {len(body)}", "", ""]
        try:
            async with asyncio.timeout(TIMEOUT_S):
                if self.reader is None or self.writer is None:
                    self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
                self.writer.write("\r\n".join(lines).encode() + body)
                status, length, close = parse_head(await self.reader.readuntil(b"\r\n\r\n"))
                payload = await self.reader.readexactly(length)
        except (OSError, EOFError, ValueError, IndexError, asyncio.LimitOverrunError) as err:
            self.close()
            raise LoadError(f"{type(err).__name__}: {err}") from err
        if close:
            self.close()
        return status, payload

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def parse_head(head: bytes) -> tuple[int, int, bool]:
    """(status, Content-Length, whether the server closes) from a response head."""
    lines = head.decode("latin-1").split("\r\n")
    fields = dict(line.lower().split(":", 1) for line in lines[1:] if ":" in line)
    if "content-length" not in fields:
        raise ValueError(f"no Content-Length in the answer: {lines[0]}")
    close = fields.get("connection", "").strip() == "close"
    return int(lines[0].split()[1]), int(fields["content-length"]), close


class RawPool(Pool):
    """``size`` connections of the minimal client: ~0.1 ms of client CPU per request."""

    def __init__(self, base_url: str, size: int) -> None:
        self.size = size
        url = httpx.URL(base_url)
        self.connections = [RawConnection(url.host, url.port or 80) for _ in range(size)]
        self.idle: asyncio.Queue[RawConnection] = asyncio.Queue()
        for connection in self.connections:
            self.idle.put_nowait(connection)

    async def post(
        self, path: str, body: bytes, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        connection = await self.idle.get()
        try:
            return await connection.post(path, body, {**JSON_HEADERS, **(headers or {})})
        finally:
            self.idle.put_nowait(connection)

    async def prepare(self, workers: int) -> str:
        """Open the connections one by one, reconnecting until each worker holds its share.

        uvicorn's workers share one listening socket and the kernel decides which accepts a
        connection: in a burst one worker may take them all (seen: 16/0), and the other then
        idles for the whole run. Balanced, the figures are those of ``workers`` processes.
        """
        share = -(-self.size // workers)
        pids: Counter[int] = Counter()
        for connection in self.connections:
            for _attempt in range(50):
                pid = json.loads((await connection.post("/bare", b"{}", JSON_HEADERS))[1])["pid"]
                if pids[pid] < share:
                    break
                connection.close()
            pids[pid] += 1
        return shares(pids)

    async def aclose(self) -> None:
        for connection in self.connections:
            connection.close()


class HttpxPool(Pool):
    """httpx.AsyncClient with a pool of ``size`` connections: ~1-2 ms of client CPU a request."""

    def __init__(self, base_url: str, size: int) -> None:
        self.size = size
        limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
        self.client = httpx.AsyncClient(
            base_url=base_url, limits=limits, timeout=httpx.Timeout(TIMEOUT_S), headers=JSON_HEADERS
        )

    async def post(
        self, path: str, body: bytes, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        try:
            answer = await self.client.post(path, content=body, headers=headers)
        except httpx.HTTPError as err:
            raise LoadError(f"{type(err).__name__}: {err}") from err
        return answer.status_code, answer.content

    async def aclose(self) -> None:
        await self.client.aclose()


def new_pool(kind: str, base_url: str, size: int) -> Pool:
    return RawPool(base_url, size) if kind == "raw" else HttpxPool(base_url, size)
