"""REST endpoints in django-oscar-api style (the optional ``api`` extra).

``oscar_ordercancel.api.urls`` is mounted under ``api/`` by ``oscar_ordercancel.urls``
when ``oscarapi`` is installed; ``oscar_ordercancel.api.oscarapi_overrides`` is the
module a shop adds to ``OSCARAPI_OVERRIDE_MODULES`` to get ``can_cancel`` and
``cancellation`` on django-oscar-api's order serializers.
"""
