"""Share links in the admin (gallery/sharing/admin.py): listed without their token, revoked by an
admin's action."""

from django.contrib.auth import get_user_model


def test_an_admin_revokes_links_and_never_sees_their_token(client, link):
    root = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(root)
    page = client.get(f"/admin/gallery/sharelink/{link.pk}/change/")
    assert page.status_code == 200 and link.token not in page.text
    response = client.post(
        "/admin/gallery/sharelink/",
        {"action": "revoke", "_selected_action": [link.pk]},
    )
    assert response.status_code == 302
    link.refresh_from_db()
    assert link.revoked_at is not None and link.revoked_by == root
    client.logout()
    assert client.get(f"/s/{link.token}").status_code == 404
