from django.apps import AppConfig


class GalleryConfig(AppConfig):
    name = "gallery"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Connects the receivers: failed logins are counted in every process that logs people
        # in, and every new account gets its personal team. Here, not at the top: Django's
        # documented place for it, once every model is loaded (not to dodge a cycle).
        from gallery.accounts import logins, signals  # noqa: F401
