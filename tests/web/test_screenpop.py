"""build_screen_pop is pure: rows in, the desktop's dict out."""

from types import SimpleNamespace as NS

from engine.routing.screenpop import build_screen_pop


def call(**kw):
    base = dict(id="c1", caller_number="+442079460001", caller_name="JANE D", inbound_number="+442071838750",
                contact_id=None, original_contact_id=None, answered_at=None, started_at=None)
    return NS(**{**base, **kw})


AGENT_GB, AGENT_US = NS(region="GB"), NS(region="US")
JANE = NS(id=1, account_number="ACC-1001", first_name="Jane", last_name="Doe")
JOHN = NS(id=2, account_number="ACC-1002", first_name="John", last_name="Doe")
INBOUND = NS(number="+442071838750", description="Sales hotline")
SALES = NS(id=1, name="Sales")
CODES = [NS(code="resolved", name="Resolved")]


def test_one_match_fills_the_contact_and_formats_for_the_agents_country():
    pop = build_screen_pop(call(), AGENT_GB, [JANE], INBOUND, CODES, SALES, clipboard_fields=["account_number", "phone_number"])
    f = pop["fields"]
    assert (f["first_name"], f["last_name"], f["account_number"]) == ("Jane", "Doe", "ACC-1001")
    assert f["phone_number"] == "020 7946 0001" and f["inbound_number_description"] == "Sales hotline"
    assert pop["multi_match"] == [] and pop["service"] == "Sales" and pop["termination_codes"][0]["code"] == "resolved"
    assert pop["clipboard_text"] == "Account number: ACC-1001\nPhone number: 020 7946 0001"


def test_a_foreign_number_is_e164_for_the_agent():
    assert build_screen_pop(call(), AGENT_US, [], None, [], None)["fields"]["phone_number"] == "+442079460001"


def test_several_matches_offer_multi_match_and_select_none_until_associated():
    pop = build_screen_pop(call(), AGENT_GB, [JOHN, JANE], INBOUND, CODES, SALES)
    assert [c["account_number"] for c in pop["multi_match"]] == ["ACC-1001", "ACC-1002"] and pop["contact"] is None
    pop = build_screen_pop(call(contact_id=2), AGENT_GB, [JOHN, JANE], INBOUND, CODES, SALES)
    assert pop["contact"]["account_number"] == "ACC-1002"


def test_withheld_caller_is_unknown_and_no_description_is_blank():
    for number in (None, "", "anonymous", "Restricted"):
        pop = build_screen_pop(call(caller_number=number), AGENT_GB, [], NS(number="+442071838751", description=""),
                               CODES, SALES)
        assert pop["fields"]["phone_number"] == "Unknown" and pop["fields"]["first_name"] == "Unknown"
        assert pop["fields"]["caller_name"] == "Unknown" and pop["fields"]["inbound_number_description"] == ""


def test_no_inbound_row_keeps_the_dialled_number_and_unknown_clipboard_fields_are_ignored():
    pop = build_screen_pop(call(caller_name=None), AGENT_GB, [], None, [], None, clipboard_fields=["nope", "call_id"])
    assert pop["fields"]["inbound_number"] == "020 7183 8750" and pop["fields"]["caller_name"] == ""
    assert pop["clipboard_fields"] == ["call_id"]
