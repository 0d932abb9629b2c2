"""The NOC web page: Starlette app on uvicorn, server-rendered (no script), Vietnamese by default.

app.py routes and pages · server.py uvicorn with timeouts · auth.py users, sessions · throttle.py
login throttling · safety.py redirect targets and bounded forms · charts.py SVG charts ·
templates.py / strings.py what the page says · cache.py per-poll-cycle page cache.
"""
