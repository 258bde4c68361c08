from django.urls import URLPattern, URLResolver, path

from accounts import api

urlpatterns: list[URLPattern | URLResolver] = [
    path("admin/users", api.AdminUsersApi.as_view()),
    path("admin/users/email/<str:email>", api.AdminUserByEmailApi.as_view()),
    path("admin/users/<int:user_id>", api.AdminUserDetailApi.as_view()),
    path("admin/users/<int:user_id>/tokens", api.AdminUserTokensApi.as_view()),
    path("admin/tokens/<int:token_id>", api.AdminTokenApi.as_view()),
    path("admin/status", api.AdminStatusApi.as_view()),
    path("user/webhook", api.UserWebhookApi.as_view()),
]
