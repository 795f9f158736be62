# Withdrawal declarations (the EU withdrawal function), their cancel jobs, the per-site switch.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def create_event_types(apps, schema_editor):
    CommunicationEventType = apps.get_model("communication", "CommunicationEventType")
    for code, name in [
        ("ORDER_WITHDRAWAL_RECEIVED", "Withdrawal received (acknowledgement)"),
        ("WITHDRAWAL_DECLARED_STAFF", "Withdrawal declared (staff e-mail)"),
    ]:
        CommunicationEventType.objects.get_or_create(
            code=code, defaults={"name": name, "category": "Order related"}
        )


class Migration(migrations.Migration):

    dependencies = [
        ('order', '0018_alter_line_num_allocated'),  # Oscar 4.0's latest: every Oscar 4 release
        ('oscar_ordercancel', '0009_batch_row_message_params'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ('communication', '0001_initial'),
    ]

    operations = [
        migrations.CreateModel(
            name='WithdrawalDeclarationLine',
            fields=[
                ('id', models.AutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('quantity', models.PositiveIntegerField(verbose_name='Quantity')),
                ('outcome', models.CharField(choices=[('cancelled', 'Cancelled at once'), ('awaiting_return', 'Awaiting return')], max_length=16, verbose_name='Outcome')),
            ],
            options={
                'verbose_name': 'Withdrawn line',
                'verbose_name_plural': 'Withdrawn lines',
                'ordering': ['pk'],
                'abstract': False,
            },
        ),
        migrations.AddField(
            model_name='cancellationsettings',
            name='withdrawal_enabled',
            field=models.BooleanField(blank=True, help_text='Empty: use OSCAR_ORDERCANCEL_WITHDRAWAL_ENABLED.', null=True, verbose_name='Withdrawal function'),
        ),
        migrations.AlterField(
            model_name='canceljob',
            name='cancellation',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='jobs', to='oscar_ordercancel.ordercancellation', verbose_name='Cancellation'),
        ),
        migrations.AlterField(
            model_name='cancellationbatch',
            name='channel',
            field=models.CharField(choices=[('customer', 'Customer account'), ('guest', 'Guest order page'), ('api', 'Customer API'), ('dashboard', 'Dashboard'), ('admin_api', 'Staff API'), ('batch', 'CSV batch'), ('cli', 'Command line'), ('code', 'Python API'), ('system', 'System'), ('withdrawal', 'Withdrawal from the contract')], default='batch', max_length=16, verbose_name='Channel'),
        ),
        migrations.AlterField(
            model_name='ordercancellation',
            name='channel',
            field=models.CharField(choices=[('customer', 'Customer account'), ('guest', 'Guest order page'), ('api', 'Customer API'), ('dashboard', 'Dashboard'), ('admin_api', 'Staff API'), ('batch', 'CSV batch'), ('cli', 'Command line'), ('code', 'Python API'), ('system', 'System'), ('withdrawal', 'Withdrawal from the contract')], max_length=16, verbose_name='Channel'),
        ),
        migrations.CreateModel(
            name='WithdrawalDeclaration',
            fields=[
                ('id', models.AutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('reference', models.CharField(max_length=32, unique=True, verbose_name='Reference')),
                ('name', models.CharField(max_length=255, verbose_name='Name')),
                ('email', models.EmailField(max_length=254, verbose_name='E-mail address')),
                ('channel', models.CharField(choices=[('account', 'Customer account'), ('guest', 'Withdrawal page'), ('api', 'Customer API'), ('staff', 'Staff, for the customer')], max_length=16, verbose_name='Channel')),
                ('date_declared', models.DateTimeField(db_index=True, verbose_name='Declared at')),
                ('state', models.CharField(choices=[('received', 'Received'), ('cancelled', 'Cancelled at once'), ('awaiting_return', 'Awaiting return'), ('refunded', 'Refunded'), ('closed', 'Closed')], db_index=True, default='received', max_length=16, verbose_name='State')),
                ('refund_due_by', models.DateTimeField(blank=True, null=True, verbose_name='Refund due by')),
                ('date_acknowledged', models.DateTimeField(blank=True, null=True, verbose_name='Acknowledgement sent at')),
                ('content_digest', models.CharField(max_length=64, verbose_name='Content digest (SHA-256)')),
                ('client_hash', models.CharField(blank=True, max_length=64, verbose_name='Client address (salted hash)')),
                ('date_goods_received', models.DateTimeField(blank=True, null=True, verbose_name='Goods received at')),
                ('refund_amount', models.DecimalField(decimal_places=2, default=0, max_digits=12, verbose_name='Refunded')),
                ('date_refunded', models.DateTimeField(blank=True, null=True, verbose_name='Refunded at')),
                ('date_closed', models.DateTimeField(blank=True, null=True, verbose_name='Closed at')),
                ('staff_note', models.TextField(blank=True, verbose_name='Staff note')),
                ('request_key', models.CharField(blank=True, editable=False, max_length=64, null=True, unique=True, verbose_name='Confirmation key')),
                ('cancellation', models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='withdrawal', to='oscar_ordercancel.ordercancellation', verbose_name='Cancellation of the lines not yet shipped')),
                ('order', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='withdrawal_declarations', to='order.order', verbose_name='Order')),
                ('user', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='Customer account')),
            ],
            options={
                'verbose_name': 'Withdrawal declaration',
                'verbose_name_plural': 'Withdrawal declarations',
                'ordering': ['-date_declared', '-pk'],
                'abstract': False,
            },
        ),
        migrations.AddField(
            model_name='canceljob',
            name='withdrawal',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='jobs', to='oscar_ordercancel.withdrawaldeclaration', verbose_name='Withdrawal declaration'),
        ),
        migrations.AddConstraint(
            model_name='canceljob',
            constraint=models.UniqueConstraint(fields=('withdrawal', 'processor'), name='ordercancel_one_withdrawal_job_per_processor'),
        ),
        migrations.AddField(
            model_name='withdrawaldeclarationline',
            name='declaration',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='lines', to='oscar_ordercancel.withdrawaldeclaration', verbose_name='Declaration'),
        ),
        migrations.AddField(
            model_name='withdrawaldeclarationline',
            name='line',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='withdrawal_lines', to='order.line', verbose_name='Order line'),
        ),
        migrations.RunPython(create_event_types, migrations.RunPython.noop),
    ]
