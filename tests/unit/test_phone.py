"""Phone numbers: stored in E.164, refused with the field named, shown by the agent's region."""

import pytest

from engine.store.errors import ValidationError
from engine.store.phone import format_for_agent, to_e164


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("+44 20 7183 8750", None, "+442071838750"),
        ("020 7183 8750", "GB", "+442071838750"),
        ("(202) 555-0143", "US", "+12025550143"),
        ("+1-202-555-0143", "GB", "+12025550143"),
        ("01 42 68 53 00", "FR", "+33142685300"),
    ],
)
def test_numbers_are_stored_in_e164(raw, region, expected):
    assert to_e164(raw, "number", region) == expected


@pytest.mark.parametrize(
    ("raw", "region"),
    [("", None), ("   ", "GB"), ("junk", "GB"), ("020 7183 8750", None), ("+44 20 7183", None), ("+999 123", None),
     ("12", "US"), ("+44 20 7183 8750 ext; drop", None)],
)
def test_invalid_numbers_are_refused_naming_the_field(raw, region):
    with pytest.raises(ValidationError) as err:
        to_e164(raw, "call_forwarding_number", region)
    assert err.value.field == "call_forwarding_number"
    assert "call_forwarding_number" in str(err.value)


def test_same_country_is_national_other_country_is_e164():
    assert format_for_agent("+442071838750", "GB") == "020 7183 8750"
    assert format_for_agent("+12025550143", "GB") == "+12025550143"
    assert format_for_agent("+12025550143", "US") == "(202) 555-0143"


@pytest.mark.parametrize("withheld", [None, "", "anonymous", "Anonymous", "unknown", "restricted"])
def test_blocked_or_anonymous_caller_id_is_unknown(withheld):
    assert format_for_agent(withheld, "GB") == "Unknown"
