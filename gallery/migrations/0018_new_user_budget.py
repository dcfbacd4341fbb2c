# The budget Site settings give each new account is the person's own now, not their personal
# team's: the fields are renamed, and keep their values.

from django.db import migrations, models

HELP = (
    "Given to each account made from now on as a budget of its own, across all the teams the "
    "person is in (change it per person under Budgets). Empty: none."
)


class Migration(migrations.Migration):
    dependencies = [
        ("gallery", "0017_signup_closed_site_cap"),
    ]

    operations = [
        migrations.RenameField(
            model_name="sitesettings",
            old_name="new_personal_images_per_day",
            new_name="new_user_images_per_day",
        ),
        migrations.RenameField(
            model_name="sitesettings",
            old_name="new_personal_usd_per_month",
            new_name="new_user_usd_per_month",
        ),
        migrations.AlterField(
            model_name="sitesettings",
            name="new_user_images_per_day",
            field=models.PositiveIntegerField(
                blank=True, help_text=HELP, null=True, verbose_name="Images per day"
            ),
        ),
        migrations.AlterField(
            model_name="sitesettings",
            name="new_user_usd_per_month",
            field=models.DecimalField(
                blank=True,
                decimal_places=2,
                help_text=HELP,
                max_digits=10,
                null=True,
                verbose_name="US dollars per month",
            ),
        ),
    ]
