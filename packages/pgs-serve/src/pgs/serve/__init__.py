"""pgs-serve: a trained head driven live in the browser over WebRTC (``pgs serve``).

Modules: `engine` (the shared head and its render thread), `pipeline` (one session's audio
intake, streaming encoding and frame scheduling), `tracks` (aiortc media tracks), `app` (the
aiohttp server: page, signalling, ``POST /render``), `command` (the ``pgs serve`` CLI).
"""
