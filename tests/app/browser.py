"""How the browser tests and the screenshot script drive the app: chromium and the password.

Starting app.py itself is bench.appserver's job (shared with the benchmarks).
"""

from __future__ import annotations

import shutil

ADMIN_PASSWORD = "review-secret"  # for the app the browser tests unlock
# Debian's chromium (never `playwright install`: these machines reach no browser CDN).
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
