"""Add to ``OSCARAPI_OVERRIDE_MODULES``: django-oscar-api then loads the order serializers
here, which add ``can_cancel`` and ``cancellation`` to its own.

Modules mirror oscarapi's (``serializers.checkout``, ``serializers.admin.order``) because
``oscarapi.utils.loading.get_api_classes`` looks a class up as ``<override module>.<label>``.
"""
