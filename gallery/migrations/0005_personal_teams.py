"""Give every existing user a personal team with a Main gallery, and move their work into it."""

from django.conf import settings
from django.db import migrations


def forwards(apps, schema_editor):
    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    Team = apps.get_model("gallery", "Team")
    Membership = apps.get_model("gallery", "Membership")
    Gallery = apps.get_model("gallery", "Gallery")
    Generation = apps.get_model("gallery", "Generation")
    Image = apps.get_model("gallery", "Image")
    for user in User.objects.all():
        team = Team.objects.create(name=user.username, personal=True)
        Membership.objects.create(team=team, user=user, role="owner")
        gallery = Gallery.objects.create(team=team, name="Main", created_by=user)
        Generation.objects.filter(owner=user).update(team=team, gallery=gallery)
        Image.objects.filter(generation__owner=user).update(gallery=gallery)


class Migration(migrations.Migration):
    dependencies = [("gallery", "0004_teams")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
