from django.urls import path

from jobs.sandbox import views

app_name = "sandbox"
urlpatterns = [
    path("v1/images/generations", views.generations, name="generations"),
    path("v2/image/generate", views.relay_generate, name="relay-generate"),
    path("v2/tasks/<str:task_id>", views.relay_task, name="relay-task"),
    path("files/<str:token>", views.file, name="file"),
]
