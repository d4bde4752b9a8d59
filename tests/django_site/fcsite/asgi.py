"""The test site under daphne (python3-daphne): its Django pages over ASGI, next to WebSocket
endpoints with no framework in between (Django Channels is not in Debian), the way a site with
Channels is deployed behind a proxy:

  /ws/echo    every message comes back as it was sent (text or binary); "close" closes it from
              the server's side
  /ws/silent  accepts and never says anything (frontcache's server.tunnel_idle_timeout)
  /ws/refuse  refuses the handshake (daphne answers 403)
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fcsite.settings")
django_app = get_asgi_application()


async def websocket(scope, receive, send):
    path = scope["path"]
    event = await receive()  # websocket.connect
    if event["type"] != "websocket.connect":
        return
    if path not in ("/ws/echo", "/ws/silent"):
        await send({"type": "websocket.close", "code": 1008})
        return
    await send({"type": "websocket.accept"})
    while True:
        event = await receive()
        if event["type"] == "websocket.disconnect":
            return
        if path == "/ws/silent":
            continue
        if event.get("text") == "close":
            await send({"type": "websocket.close", "code": 1000})
            return
        if event.get("text") is not None:
            await send({"type": "websocket.send", "text": event["text"]})
        else:
            await send({"type": "websocket.send", "bytes": event["bytes"]})


async def application(scope, receive, send):
    if scope["type"] == "websocket":
        await websocket(scope, receive, send)
    else:
        await django_app(scope, receive, send)
