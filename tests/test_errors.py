from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def test_unknown_api_routes_are_json_404s() -> None:
    response = APIClient().get("/no/such/route")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


def test_malformed_json_is_a_422_not_a_500(admin_api: APIClient) -> None:
    response = admin_api.generic(
        "POST", "/admin/users", "{not json", content_type="application/json"
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body"]


def test_the_openapi_schema_and_docs_are_served() -> None:
    schema = APIClient().get("/openapi.json")
    assert schema.status_code == 200
    paths = json.loads(schema.content)["paths"]
    assert "/admin/users" in paths
    assert "/admin/users/{user_id}/tokens" in paths
    assert "/user/webhook" in paths
    docs = APIClient().get("/docs")
    assert docs.status_code == 200
    assert b"swagger" in docs.content.lower()
