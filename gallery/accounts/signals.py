"""Every new account gets a personal team with a gallery, and the site's default budget."""

from django.conf import settings
from django.db.models.signals import post_save
from django.dispatch import receiver

from gallery.images.models import Gallery
from gallery.teams.models import Membership, Team
from gallery.usage.models import Budget, SiteSettings


@receiver(post_save, sender=settings.AUTH_USER_MODEL)
def give_new_users_a_personal_space(sender, instance, created: bool, **kwargs) -> None:
    if created and not kwargs.get("raw"):
        team = Team.objects.create(name=instance.get_username(), personal=True)
        Membership.objects.create(team=team, user=instance, role=Membership.Role.OWNER)
        Gallery.objects.create(team=team, name="Main", created_by=instance)
        site = SiteSettings.objects.filter(pk=1).first()
        budget = {
            "images_per_day": site and site.new_user_images_per_day,
            "usd_per_month": site and site.new_user_usd_per_month,
        }
        if any(value is not None for value in budget.values()):
            Budget.objects.create(user=instance, **budget)
