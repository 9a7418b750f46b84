import pytest

from core.secrets import MASK, redact


@pytest.mark.parametrize(
    "text, secret",
    [
        ("db_password=hunter2-xyz", "hunter2-xyz"),
        ("api_key=AKIA1234567890", "AKIA1234567890"),
        ("error: token: abc.def.ghi while posting", "abc.def.ghi"),
        ('{"apiKey": "s3cr3t-value", "ok": false}', "s3cr3t-value"),
        ("SECRET_KEY = 'django-insecure-42'", "django-insecure-42"),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload", "eyJhbGciOiJIUzI1NiJ9.payload"),
        ("url?access_token=zzz123&x=1", "zzz123"),
    ],
)
def test_it_masks_the_value_of_a_secret_looking_key(text, secret):
    shown = redact(text)
    assert secret not in shown
    assert MASK in shown


def test_it_keeps_text_without_secrets_as_it_is():
    assert (
        redact("HTTP 500: upstream timed out, retry=3") == "HTTP 500: upstream timed out, retry=3"
    )


def test_it_bounds_the_length_to_the_limit():
    shown = redact("x" * 5000, limit=200)
    assert len(shown) == 200
    assert shown.endswith("…")


def test_a_secret_cut_by_the_limit_is_masked_before_the_cut():
    shown = redact("a" * 290 + " password=longsecretvalue", limit=300)
    assert "longsec" not in shown
