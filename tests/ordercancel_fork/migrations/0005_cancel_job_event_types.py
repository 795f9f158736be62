from django.db import migrations


def create_event_types(apps, schema_editor):
    CommunicationEventType = apps.get_model("communication", "CommunicationEventType")
    for code, name in [
        ("ORDER_CANCEL_REQUEST", "Cancel request to a fulfilment partner"),
        ("CANCEL_PROCESSOR_FAILING", "Cancel processor failing (staff alert)"),
    ]:
        CommunicationEventType.objects.get_or_create(
            code=code, defaults={"name": name, "category": "Order related"}
        )


class Migration(migrations.Migration):
    dependencies = [
        ("oscar_ordercancel", "0004_cancel_jobs"),
        ("communication", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_event_types, migrations.RunPython.noop)]
