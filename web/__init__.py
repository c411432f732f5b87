"""The web side: REST API, websocket push, the supervisor dashboard and the agent desktop.

Data flows one way: handlers call engine services (RoutingService) and the store; the
engine publishes events on the EventBus that `web/ws.py` pushes to browsers.
"""
