"""Admin serializer overrides for django-oscar-api."""
