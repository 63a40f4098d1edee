"""The ceiling: a bare Starlette JSON endpoint, served by uvicorn with the
options `portal serve` uses (lib.server.uvicorn_options), so the benchmark
can say how far each request kind is from what the stack itself allows.

    python -m bench.ceiling --port 8001 --workers 1
"""

from __future__ import annotations

import argparse

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from lib.server import uvicorn_options

PATH = "/hello"


async def hello(request: Request) -> JSONResponse:
    return JSONResponse({"hello": "world"})


def create_app() -> Starlette:
    return Starlette(routes=[Route(PATH, hello)])


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ceiling")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    uvicorn.run("bench.ceiling:create_app", **uvicorn_options(args.host, args.port, args.workers))


if __name__ == "__main__":
    main()
