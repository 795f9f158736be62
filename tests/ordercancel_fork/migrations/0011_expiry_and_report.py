# Unpaid orders expire (channel expiry, the per-site lifetime and reminder, the reminder
# record, the voucher usage a cancellation gave back, an index on Oscar's orders for the
# sweep) and the cancellation report's index.

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


EXPIRY_INDEX = models.Index(fields=["status", "date_placed"], name="ordercancel_order_expiry")


def create_event_type(apps, schema_editor):
    CommunicationEventType = apps.get_model("communication", "CommunicationEventType")
    CommunicationEventType.objects.get_or_create(
        code="ORDER_EXPIRY_REMINDER",
        defaults={"name": "Unpaid order: reminder before expiry", "category": "Order related"},
    )


def add_order_index(apps, schema_editor):
    """The sweep's selection (status, placed before) on Oscar's order table."""
    schema_editor.add_index(apps.get_model("order", "Order"), EXPIRY_INDEX)


def remove_order_index(apps, schema_editor):
    schema_editor.remove_index(apps.get_model("order", "Order"), EXPIRY_INDEX)


class Migration(migrations.Migration):

    dependencies = [
        ('order', '0018_alter_line_num_allocated'),  # Oscar 4.0's latest: every Oscar 4 release
        ('oscar_ordercancel', '0010_withdrawals'),
        ('communication', '0001_initial'),
    ]

    operations = [
        migrations.CreateModel(
            name='ExpiryReminder',
            fields=[
                ('id', models.AutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('date_sent', models.DateTimeField(default=django.utils.timezone.now, verbose_name='Sent at')),
                ('expires_at', models.DateTimeField(verbose_name='Expires at')),
            ],
            options={
                'verbose_name': 'Expiry reminder',
                'verbose_name_plural': 'Expiry reminders',
                'ordering': ['-date_sent'],
                'abstract': False,
            },
        ),
        migrations.AddField(
            model_name='cancellationsettings',
            name='expire_unpaid_after',
            field=models.DurationField(blank=True, help_text='Empty: use OSCAR_ORDERCANCEL_EXPIRE_UNPAID_AFTER.', null=True, verbose_name='Unpaid orders expire after'),
        ),
        migrations.AddField(
            model_name='cancellationsettings',
            name='expiry_reminder_before',
            field=models.DurationField(blank=True, help_text='Empty: use OSCAR_ORDERCANCEL_EXPIRY_REMINDER_BEFORE.', null=True, verbose_name='Remind the customer before expiry'),
        ),
        migrations.AddField(
            model_name='ordercancellation',
            name='vouchers_released',
            field=models.JSONField(blank=True, default=list, help_text='What a whole-order cancellation gave back (OSCAR_ORDERCANCEL_RELEASE_VOUCHERS).', verbose_name='Voucher and offer usage given back'),
        ),
        migrations.AlterField(
            model_name='cancellationbatch',
            name='channel',
            field=models.CharField(choices=[('customer', 'Customer account'), ('guest', 'Guest order page'), ('api', 'Customer API'), ('dashboard', 'Dashboard'), ('admin_api', 'Staff API'), ('batch', 'CSV batch'), ('cli', 'Command line'), ('code', 'Python API'), ('system', 'System'), ('withdrawal', 'Withdrawal from the contract'), ('expiry', 'Unpaid order expired')], default='batch', max_length=16, verbose_name='Channel'),
        ),
        migrations.AlterField(
            model_name='ordercancellation',
            name='channel',
            field=models.CharField(choices=[('customer', 'Customer account'), ('guest', 'Guest order page'), ('api', 'Customer API'), ('dashboard', 'Dashboard'), ('admin_api', 'Staff API'), ('batch', 'CSV batch'), ('cli', 'Command line'), ('code', 'Python API'), ('system', 'System'), ('withdrawal', 'Withdrawal from the contract'), ('expiry', 'Unpaid order expired')], max_length=16, verbose_name='Channel'),
        ),
        migrations.AddIndex(
            model_name='ordercancellation',
            index=models.Index(fields=['state', 'date_completed'], name='ordercancel_report_range'),
        ),
        migrations.AddField(
            model_name='expiryreminder',
            name='order',
            field=models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='expiry_reminder', to='order.order', verbose_name='Order'),
        ),
        migrations.RunPython(create_event_type, migrations.RunPython.noop),
        migrations.RunPython(add_order_index, remove_order_index),
    ]
