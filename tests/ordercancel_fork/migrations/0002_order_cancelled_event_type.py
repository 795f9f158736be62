from django.db import migrations


def create_event_types(apps, schema_editor):
    CommunicationEventType = apps.get_model("communication", "CommunicationEventType")
    for code, name in [
        ("ORDER_CANCELLED", "Order cancelled"),
        ("ORDER_CANCELLATION_REQUESTED", "Order cancellation requested"),
        ("ORDER_CANCELLATION_REJECTED", "Order cancellation declined"),
    ]:
        CommunicationEventType.objects.get_or_create(
            code=code, defaults={"name": name, "category": "Order related"}
        )


class Migration(migrations.Migration):
    dependencies = [
        ("oscar_ordercancel", "0001_initial"),
        ("communication", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_event_types, migrations.RunPython.noop)]
