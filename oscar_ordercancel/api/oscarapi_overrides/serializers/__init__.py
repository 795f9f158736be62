"""Serializer overrides for django-oscar-api."""
