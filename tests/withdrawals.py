"""What the withdrawal tests share: the pages' addresses and the first step as a form post."""

import re

from django.urls import reverse

WITHDRAW = reverse("oscar_ordercancel:withdraw")
CONFIRM = reverse("oscar_ordercancel:withdraw-confirm")
TOKEN = re.compile(r'name="token" value="([^"]+)"')


def token_of(page) -> str:
    """The confirm token of a second step."""
    return TOKEN.search(page.content.decode()).group(1)


def step_one(client, number, email="guest@example.com", name="Greta Guest", **extra):
    """Post the first step; ``extra`` upper-case keys are request headers (``REMOTE_ADDR``…), the
    others form fields."""
    meta = {key: value for key, value in extra.items() if key.isupper()}
    fields = {key: value for key, value in extra.items() if not key.isupper()}
    return client.post(WITHDRAW, {"name": name, "email": email, "order_number": number,
                                  "website": "", **fields}, **meta)
