"""Typed application keys: what `create_app` puts on the app for handlers to find."""

from __future__ import annotations

from aiohttp import web

SETTINGS_KEY: web.AppKey = web.AppKey("settings", object)
ROUTING_KEY: web.AppKey = web.AppKey("routing", object)
BUS_KEY: web.AppKey = web.AppKey("bus", object)
AUTH_KEY: web.AppKey = web.AppKey("auth", object)
SOCKETS_KEY: web.AppKey = web.AppKey("sockets", set)
USER_KEY: web.RequestKey = web.RequestKey("user", object)
