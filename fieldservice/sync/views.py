"""Serve the engineers' app (the top-level pwa/ folder) under /app/, with a service worker's headers."""

import hashlib
import json
import os
from pathlib import Path

from flask import Blueprint, abort, redirect, send_from_directory

bp = Blueprint("sync", __name__)

PWA_DIR = Path(__file__).resolve().parent.parent.parent / "pwa"
# Files the app shares with the console, served under /app/ from where the console keeps them.
SHARED = {"tokens.css": Path(__file__).resolve().parent.parent / "core" / "static" / "css" / "tokens.css"}

# The app shell the service worker precaches: everything the app needs to start and work with no network.
SHELL = [
    "index.html",
    "tokens.css",
    "app.css",
    "i18n.js",
    "js/store.js",
    "js/api.js",
    "js/outbox.js",
    "js/images.js",
    "js/visit.js",
    "js/pool.js",
    "js/settle.js",
    "js/customerqr.js",
    "js/outboxview.js",
    "js/prime.js",
    "js/app.js",
    "manifest.webmanifest",
    "icons/icon-192.png",
    "icons/icon-512.png",
    "vendor/idb/idb.umd.js",
    "vendor/signature_pad/signature_pad.umd.min.js",
    "vendor/qrcode-generator/qrcode.js",
]

# Only these kinds of file are served from pwa/ (not the icon script, not the vendoring notes).
SERVED_SUFFIXES = {".html", ".js", ".css", ".png", ".webmanifest", ".json"}

NO_CACHE = "no-cache, no-store, must-revalidate"


def _shell_url(name: str) -> str:
    return "/app/" if name == "index.html" else "/app/" + name


_manifest_cache: dict = {}


def _path(name: str) -> Path:
    return SHARED.get(name) or PWA_DIR / name


def precache_manifest() -> list[dict]:
    """The shell's URLs with a content hash each: any edit to a shell file makes the service worker update."""
    stamp = tuple(os.stat(_path(name)).st_mtime_ns for name in SHELL)
    if _manifest_cache.get("stamp") != stamp:
        entries = []
        for name in SHELL:
            digest = hashlib.sha256(_path(name).read_bytes()).hexdigest()[:16]
            entries.append({"url": _shell_url(name), "revision": digest})
        _manifest_cache.update(stamp=stamp, entries=entries)
    return _manifest_cache["entries"]


@bp.route("/app")
def app_root():
    return redirect("/app/", code=301)


@bp.route("/app/")
def index():
    response = send_from_directory(PWA_DIR, "index.html", max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.route("/app/sw.js")
def service_worker():
    response = send_from_directory(PWA_DIR, "sw.js", max_age=0, mimetype="text/javascript")
    # The worker lives under /app/ and controls /app/; browsers must always re-check it for updates.
    response.headers["Service-Worker-Allowed"] = "/app/"
    response.headers["Cache-Control"] = NO_CACHE
    return response


@bp.route("/app/precache-manifest.js")
def service_worker_manifest():
    body = "self.__PRECACHE_MANIFEST = " + json.dumps(precache_manifest(), indent=1) + ";\n"
    return body, 200, {"Content-Type": "text/javascript; charset=utf-8", "Cache-Control": NO_CACHE}


@bp.route("/app/manifest.webmanifest")
def web_manifest():
    response = send_from_directory(PWA_DIR, "manifest.webmanifest", mimetype="application/manifest+json")
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.route("/app/tokens.css")
def shared_tokens():
    """The colour and type scale the console uses too (core/static/css/tokens.css)."""
    shared = SHARED["tokens.css"]
    response = send_from_directory(shared.parent, shared.name, mimetype="text/css")
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.route("/app/<path:filename>")
def app_file(filename: str):
    if Path(filename).suffix not in SERVED_SUFFIXES:
        abort(404)
    response = send_from_directory(PWA_DIR, filename)
    # The service worker keeps its own versioned copy; the HTTP cache must not hand it a stale file.
    response.headers["Cache-Control"] = "no-cache"
    return response
