"""aiohttp web side: REST API, websocket push, dashboard and agent desktop."""
