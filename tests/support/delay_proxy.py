"""A TCP proxy that delays every chunk by a fixed one-way delay, in both directions.

It stands in for a database 10–50 ms away (e.g. `--delay-ms 10` gives a 20 ms round trip)
without limiting throughput: each chunk is released at arrival + delay, in order.

    python -m tests.support.delay_proxy --port 6432 --target 127.0.0.1:5432 --delay-ms 10

Hand-written because no packaged tool does this without root (tc/netem needs NET_ADMIN and
would delay every loopback client, not just the app's database connections).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay_s: float) -> None:
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def release() -> None:
        while True:
            due, data = await queue.get()
            if not data:
                break
            if (wait := due - time.monotonic()) > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
        with contextlib.suppress(OSError):
            writer.write_eof()

    releaser = asyncio.create_task(release())
    try:
        while data := await reader.read(65536):
            queue.put_nowait((time.monotonic() + delay_s, data))
    except OSError:
        pass
    finally:
        queue.put_nowait((0.0, b""))
        with contextlib.suppress(OSError):
            await releaser


async def serve(
    port: int, target_host: str, target_port: int, delay_s: float, ready: asyncio.Event | None = None
) -> None:
    async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(target_host, target_port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(
            _pump(client_reader, upstream_writer, delay_s),
            _pump(upstream_reader, client_writer, delay_s),
        )
        for writer in (client_writer, upstream_writer):
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    if ready is not None:
        ready.set()
    print(f"delay proxy 127.0.0.1:{port} -> {target_host}:{target_port}, {delay_s * 1000:.0f} ms each way", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--target", default="127.0.0.1:5432")
    parser.add_argument("--delay-ms", type=float, default=10.0)
    args = parser.parse_args()
    host, port = args.target.rsplit(":", 1)
    asyncio.run(serve(args.port, host, int(port), args.delay_ms / 1000))


if __name__ == "__main__":
    main()
