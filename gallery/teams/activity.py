"""Writes that other people should hear about: the team feed and @mention notifications."""

import logging
import re
import smtplib
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail

from gallery.accounts import ratelimit
from gallery.models import Activity, Comment, Notification, Team

log = logging.getLogger(__name__)
MENTION = re.compile(r"(?<![\w@])@([\w.+-]+)")


def mail(subject: str, body: str, to: str) -> None:
    """Send one message; a mail server that is down must not break the page.

    The subject may carry names people chose (a team's), made before names were checked for
    line breaks: it is sent on one line, and a header the mail library still refuses (a
    ValueError) is logged like a server that is down.
    """
    try:
        send_mail(" ".join(subject.split()), body, None, [to])
    except (OSError, smtplib.SMTPException, ValueError) as e:
        log.warning("could not send mail to %s: %s", to, e)


def record(team: Team, actor: Any, verb: str, summary: str, image: Any = None) -> Activity:
    return Activity.objects.create(
        team=team, actor=actor, verb=verb, summary=summary[:300], image=image
    )


def add_comment(image: Any, author: Any, body: str) -> Comment:
    comment = Comment.objects.create(image=image, author=author, body=body)
    team = image.gallery.team
    record(team, author, Activity.Verb.COMMENTED, body[:120], image=image)
    notify_mentions(comment, team)
    return comment


def notify_mentions(comment: Comment, team: Team) -> list[Notification]:
    """Tell each mentioned teammate (and only teammates) about the comment."""
    names = set(MENTION.findall(comment.body))
    if not names:
        return []
    users = (
        get_user_model()
        .objects.filter(username__in=names, memberships__team=team)
        .exclude(pk=comment.author_id)
    )
    notifications = []
    for user in users:
        text = f"{comment.author} mentioned you: {comment.body[:200]}"
        notifications.append(
            Notification.objects.create(user=user, actor=comment.author, comment=comment, text=text)
        )
        if settings.EMAIL_NOTIFICATIONS and user.email and _may_mail(comment.author):
            mail("You were mentioned on Atelier", text, user.email)
    return notifications


def _may_mail(author: Any) -> bool:
    """Count one mention mail from this author: False once over their limit (the mention is
    still shown on the site); a comment can name every teammate, as often as allowed."""
    count, seconds = settings.ACTION_RATES["mention_mail"]
    return not ratelimit.too_many(f"mention_mail:{author.pk}", count, seconds)
