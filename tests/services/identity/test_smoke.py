from cumulo.client import Client


def test_register_login_and_list_keys(user: Client) -> None:
    me = user.identity.me()
    assert me["email"].endswith("@example.com")
    keys = user.identity.keys()
    assert len(keys) == 1 and "key" not in keys[0] and keys[0]["last_used"] is not None
