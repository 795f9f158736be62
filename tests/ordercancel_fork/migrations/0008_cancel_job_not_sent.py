"""Cancel jobs that are never to be sent: state ``not_sent`` and why (``not_sent_reason``).

Jobs of requests that were declined before they were delivered, written by
earlier versions as pending (they would still have been delivered) or as
failed ("Not sent: … declined the request."), become ``not_sent``.
"""

from django.db import migrations, models
from django.utils import timezone


def not_sent_for_declined_requests(apps, schema_editor):
    CancelJob = apps.get_model("oscar_ordercancel", "CancelJob")
    waiting = CancelJob.objects.filter(cancellation__state="rejected", state__in=["pending", "failed"])
    declined_by_processor = set(CancelJob.objects.filter(
        cancellation__state="rejected", state="rejected").values_list("cancellation_id", flat=True))
    now = timezone.now()
    for reason, jobs in (
            ("declined_by_processor", waiting.filter(cancellation_id__in=declined_by_processor)),
            ("declined", waiting.exclude(cancellation_id__in=declined_by_processor))):
        jobs.update(state="not_sent", not_sent_reason=reason, next_attempt_at=None,
                    lease_expires_at=None, date_finished=now)


class Migration(migrations.Migration):

    dependencies = [
        ('oscar_ordercancel', '0007_fewer_cancel_job_indexes'),
    ]

    operations = [
        migrations.AddField(
            model_name='canceljob',
            name='not_sent_reason',
            field=models.CharField(blank=True, choices=[('declined_by_staff', 'The request was declined by staff'), ('declined_by_processor', 'Another processor declined the request'), ('declined', 'The request was declined')], max_length=32, verbose_name='Why not sent'),
        ),
        migrations.AlterField(
            model_name='canceljob',
            name='state',
            field=models.CharField(choices=[('pending', 'Pending'), ('running', 'Running'), ('succeeded', 'Succeeded'), ('rejected', 'Rejected'), ('failed', 'Failed'), ('not_sent', 'Not sent')], default='pending', max_length=16, verbose_name='State'),
        ),
        migrations.AlterField(
            model_name='ordercancellation',
            name='date_completed',
            field=models.DateTimeField(blank=True, help_text='When it took effect, or when the request was rejected (see the state).', null=True, verbose_name='Completed or rejected at'),
        ),
        migrations.RunPython(not_sent_for_declined_requests, migrations.RunPython.noop),
    ]
