"""ASGI entry point for Daphne: Django for HTTP, Channels for the WebSocket API."""

import os
from http import HTTPStatus

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vexa_site.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from vexa_site.routing import websocket_urlpatterns  # noqa: E402

try:
    from twisted.web import http as twisted_http
except ImportError:  # another ASGI server
    pass
else:
    # Daphne sends the reason phrase from Twisted's table, which lacks 422 and 429: clients that
    # build messages from `statusText` (the seed's cookbooks do) read "Unknown Status".
    for known in HTTPStatus:
        twisted_http.RESPONSES.setdefault(known.value, known.phrase.encode())

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": URLRouter(websocket_urlpatterns),
    }
)
