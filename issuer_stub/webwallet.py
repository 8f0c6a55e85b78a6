"""The web wallet's static files (``issuer_stub/static/wallet/``) at ``/wallet/``.

Served only if the directory exists, never outside it, no hidden files, with an explicit
content type per extension, ``Cache-Control: no-store`` and a Content-Security-Policy that
allows only this origin (images may also be ``data:``/``blob:``: the holder's photo).
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

WALLET_DIR = Path(__file__).resolve().parent / "static" / "wallet"
MAX_TAIL = 200  # no file of the wallet has a longer path; longer ones are 404 without a look
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
    ".wasm": "application/wasm",
}
HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def resolve(root: Path, tail: str) -> Path | None:
    """The file ``tail`` names under ``root``, or None (missing, hidden, outside, unknown)."""
    if len(tail) > MAX_TAIL or not tail.isprintable():  # NUL, control characters
        return None
    parts = [p for p in tail.split("/") if p]
    if any(p.startswith(".") or "\\" in p for p in parts):
        return None
    path = root.joinpath(*parts) if parts else root
    try:
        if path.is_dir():
            path = path / "index.html"
        real = path.resolve(strict=True)
        if not real.is_relative_to(root.resolve(strict=True)):
            return None
    except (OSError, RuntimeError, ValueError):  # too long, a loop, an embedded NUL
        return None
    if not real.is_file() or real.suffix.lower() not in CONTENT_TYPES:
        return None
    return real


def add_wallet_routes(app: web.Application, root: Path = WALLET_DIR) -> None:
    async def redirect(_request: web.Request) -> web.StreamResponse:
        raise web.HTTPMovedPermanently("/wallet/")

    async def serve(request: web.Request) -> web.StreamResponse:
        path = resolve(root, request.match_info["tail"])
        if path is None:
            raise web.HTTPNotFound(text="not found\n", headers={"Cache-Control": "no-store"})
        body = path.read_bytes()
        return web.Response(body=body, headers={
            **HEADERS, "Content-Type": CONTENT_TYPES[path.suffix.lower()]})

    app.router.add_get("/wallet", redirect)
    app.router.add_get("/wallet/{tail:.*}", serve)
