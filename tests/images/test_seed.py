from django.core.management import CommandError, call_command

from gallery.models import Generation, Image, personal_team


def test_seed_gallery_fills_a_users_gallery_quickly(alice):
    call_command("seed_gallery", images=30, owner="alice", batch=7, verbosity=0)
    team = personal_team(alice)
    assert Image.objects.filter(team=team).count() == 30
    assert Generation.objects.filter(owner=alice, status="succeeded").count() == 30
    assert team.galleries.count() == 5
    assert Image.objects.values("original").distinct().count() <= 4  # files are shared


def test_seed_gallery_refuses_an_unknown_owner(db):
    import pytest

    with pytest.raises(CommandError, match="no user called 'nobody'"):
        call_command("seed_gallery", images=1, owner="nobody", verbosity=0)


def test_seed_gallery_fills_a_team_of_the_owners(studio, alice):
    call_command("seed_gallery", images=12, owner="alice", team="Studio", verbosity=0)
    assert Image.objects.filter(team=studio).count() == 12
    assert Generation.objects.filter(team=studio, status="succeeded").count() == 12
    assert not Image.objects.filter(team=personal_team(alice)).exists()


def test_seed_gallery_refuses_a_team_the_owner_is_not_in(studio):
    import pytest

    with pytest.raises(CommandError, match='alice is not in a team called "Dave\'s team"'):
        call_command("seed_gallery", images=1, owner="alice", team="Dave's team", verbosity=0)
