import pytest

from ispa_acmewrap.errors import BadInput
from ispa_acmewrap.names import display_name, normalize_name


@pytest.mark.parametrize("raw, expected", [
    ("isp.example.net", "isp.example.net"),
    ("ISP.Example.NET", "isp.example.net"),
    ("isp.example.net.", "isp.example.net"),
    ("  isp.example.net  ", "isp.example.net"),
    ("faß.de", "xn--fa-hia.de"),  # IDNA 2008, not the transitional 'fass.de'
    ("příklad.cz", "xn--pklad-zsa96e.cz"),
    ("a-b.example.net", "a-b.example.net"),
])
def test_accepted_names(raw, expected):
    assert normalize_name(raw) == expected


@pytest.mark.parametrize("raw, reason", [
    ("", "empty"),
    ("*.example.net", "wildcard"),
    ("192.0.2.1", "IP address"),
    ("2001:db8::1", "IP address"),
    ("isp example.net", "space"),
    ("localhost", "no dot"),
    ("a;b.example.net", "cannot appear"),
    ("$(reboot).example.net", "cannot appear"),
    ("x" * 64 + ".example.net", "longer than 63"),
    (("a" * 60 + ".") * 4 + "example.net", "at most 253"),
    ("-a.example.net", "not a valid part"),
    ("isp..example.net", "empty part"),
    (".example.net", "empty part"),
    ("a_b.example.net", "not a valid part"),
    ("example.123", "ends in a number"),
])
def test_refused_names(raw, reason):
    with pytest.raises(BadInput) as error:
        normalize_name(raw)
    assert reason in error.value.message


def test_display_name_shows_unicode():
    assert display_name("xn--pklad-zsa96e.cz") == "příklad.cz"
    assert display_name("isp.example.net") == "isp.example.net"
