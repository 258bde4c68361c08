"""The product as Daphne serves it."""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

from tests.conftest import ADMIN_KEY


def test_a_422_carries_its_reason_phrase(daphne: str) -> None:
    # Clients that show `response.statusText` (the seed's cookbooks) read it from here.
    where = urlsplit(daphne)
    connection = http.client.HTTPConnection(where.hostname or "", where.port, timeout=10)
    try:
        connection.request("GET", "/admin/users?limit=0", headers={"X-Admin-API-Key": ADMIN_KEY})
        response = connection.getresponse()
        response.read()
    finally:
        connection.close()
    assert (response.status, response.reason) == (422, "Unprocessable Entity")
