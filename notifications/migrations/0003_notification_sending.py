from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0002_notification_status_idx"),
    ]

    operations = [
        migrations.AlterField(
            model_name="notification",
            name="status",
            field=models.CharField(
                choices=[
                    ("sending", "sending"),
                    ("queued", "queued"),
                    ("sent", "sent"),
                    ("delivered", "delivered"),
                    ("failed", "failed"),
                    ("undelivered", "undelivered"),
                    ("unknown", "unknown"),
                ],
                default="queued",
                max_length=16,
            ),
        ),
    ]
