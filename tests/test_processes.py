from __future__ import annotations

from typing import Any

import httpx

from tests import processes


def test_daphne_serves_the_product_and_a_celery_worker_starts(transactional_db: Any) -> None:
    with processes.daphne_server() as base:
        response = httpx.get(f"{base}/healthz")
        assert response.json() == {"status": "ok"}
        missing = httpx.get(f"{base}/no-such-route")
        assert missing.status_code == 404
        assert missing.json() == {"detail": "Not Found"}
    with processes.celery_worker("default") as worker:
        assert worker.poll() is None
