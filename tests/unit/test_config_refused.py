"""Values that would break or inject into a generated file are refused, and nothing is written.

Records are built in memory and never flushed, so they bypass the store's own validation:
this is the generator's last line of defence (a hand-edited database, a future field, a
setting from the environment). Each case names the record and the field in the error.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from sqlalchemy import text

from engine.config import ConfigValueError, conf_value
from engine.config.cli import cmd_generate
from engine.config.generator import _environment, render, render_and_write
from engine.config.snapshot import Snapshot
from engine.settings import Settings
from engine.store import models as m
from engine.store.session import session_scope


def good_settings(tmp_path: Path) -> Settings:
    return Settings(
        home=tmp_path, database_url=f"sqlite:///{tmp_path / 'unused.db'}", sip_port=5060, http_port=8088,
        ami_port=5038, ari_app="switchboard", ari_user="switchboard", ari_password="ari-secret",
        ami_user="switchboard", ami_password="ami-secret", trunk_host="127.0.0.1", trunk_port=5090,
    )


def good_snapshot() -> Snapshot:
    agent = m.Agent(id=1, name="Alice Archer", intercom="1001", username="alice", sip_username="agent1001",
                    sip_password="secret-1001", region="GB", extension_caller_id="+442071838750")
    plain = m.Agent(id=2, name="Bob Baker", intercom="1002", username="bob", sip_username="agent1002",
                    sip_password="secret-1002", region="GB")
    dept = m.Department(id=1, name="Sales", moh_class="default")
    ivr = m.Ivr(id=1, name="Main menu", transfer_code="30001")
    number = m.InboundNumber(id=1, number="+442071838750", description="Sales hotline", target_type="department",
                             target_id=1)
    menu_number = m.InboundNumber(id=2, number="+442071838751", target_type="ivr", target_id=1)
    return Snapshot(agents=[agent, plain], departments=[dept], ivrs=[ivr], inbound_numbers=[number, menu_number])


# Characters dangerous everywhere in a .conf file (line structure, comments, sections).
STRUCTURAL = ["a\nb", "a\rb", "a;b", "a[b", "a]b", "a=b", "a\x00b", "a\x1bb", "a\u2028b", " lead", "trail "]
# Dangerous in a dialplan application argument or an extension.
DIALPLAN = ["a,b", "a(b", "a)b", "a$b", "${EXTEN}", "a b", "a|b", 'a"b']
# Dangerous inside callerid = "Name" <number>.
CALLERID = ['a"b', "a<b", "a>b", "a\\b"]

# (record kind, field, bad values, the record's label in the error)
CASES = (
    [("agent", "name", v, "agent 'alice'") for v in STRUCTURAL + CALLERID]
    + [("agent", "sip_username", v, "agent 'alice'") for v in STRUCTURAL + DIALPLAN + ["", "-x", "a/b"]]
    + [("agent", "sip_password", v, "agent 'alice'") for v in STRUCTURAL + ["", "a\\b", 'a"b']]
    + [("agent", "extension_caller_id", v, "agent 'alice'") for v in STRUCTURAL + DIALPLAN + ["442071838750", "+44 20"]]
    + [("plain_agent", "intercom", v, "agent 'bob'") for v in STRUCTURAL + DIALPLAN + ["10a1"]]
    + [("department", "moh_class", v, "department 'Sales'") for v in STRUCTURAL + DIALPLAN + ["", "general"]]
    + [("inbound", "number", v, "inbound number") for v in STRUCTURAL + DIALPLAN + ["442071838750", "+44(0)20"]]
    + [("inbound", "description", v, "inbound number '+442071838750'") for v in ["a\nb", "a\rb", "x ;-- y", "y --; x", "\x00"]]
    # Names that only appear in comments are still checked, and blamed on their own record.
    + [("agent", "username", v, "agent") for v in ["a\nb", "x ;-- y"]]
    + [("department", "name", v, "department") for v in ["a\nb", "x --; y"]]
    + [("ivr", "name", v, "ivr") for v in ["a\nb", "\x7f"]]
)


def _target(snapshot: Snapshot, kind: str):
    return {
        "agent": snapshot.agents[0], "plain_agent": snapshot.agents[1],
        "department": snapshot.departments[0], "inbound": snapshot.inbound_numbers[0], "ivr": snapshot.ivrs[0],
    }[kind]


@pytest.fixture
def out_dir(tmp_path) -> Path:
    """An output directory that already holds files, to prove they are left alone."""
    out = tmp_path / "asterisk"
    out.mkdir()
    (out / "pjsip.conf").write_text("; the previous, good pjsip.conf\n")
    (out / "notes.txt").write_text("admin notes\n")
    return out


def _listing(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


@pytest.mark.parametrize("kind,field,value,label", CASES, ids=lambda v: repr(v) if isinstance(v, str) else None)
def test_record_value_refused(tmp_path, out_dir, kind, field, value, label):
    snapshot = good_snapshot()
    setattr(_target(snapshot, kind), field, value)
    before = _listing(out_dir)
    siblings = sorted(p.name for p in out_dir.parent.iterdir())
    with pytest.raises(ConfigValueError) as info:
        render_and_write(snapshot, good_settings(tmp_path), out_dir)
    message = str(info.value)
    assert message.startswith(label), message
    assert f"field {field!r}" in message, message
    assert ".conf" in message, message  # says which file it would have broken
    assert _listing(out_dir) == before
    assert sorted(p.name for p in out_dir.parent.iterdir()) == siblings  # no temp dir left behind


SETTING_CASES = (
    [("ari_user", v) for v in STRUCTURAL + DIALPLAN]
    + [("ami_user", v) for v in STRUCTURAL + DIALPLAN]
    + [("ari_password", v) for v in STRUCTURAL + ["", "a\\b"]]
    + [("ami_password", v) for v in STRUCTURAL + ["", "a\\b"]]
    + [("ari_app", v) for v in STRUCTURAL + DIALPLAN]
    + [("trunk_host", v) for v in STRUCTURAL + DIALPLAN + ["-host", "host-"]]
    + [(port, v) for port in ("sip_port", "http_port", "ami_port", "trunk_port") for v in (0, 65536, -1, True)]
)


@pytest.mark.parametrize("field,value", SETTING_CASES, ids=repr)
def test_setting_refused(tmp_path, out_dir, field, value):
    settings = dataclasses.replace(good_settings(tmp_path), **{field: value})
    before = _listing(out_dir)
    with pytest.raises(ConfigValueError) as info:
        render_and_write(good_snapshot(), settings, out_dir)
    assert str(info.value).startswith(f"settings field {field!r}:"), str(info.value)
    assert _listing(out_dir) == before


def test_message_reads_well(tmp_path):
    snapshot = good_snapshot()
    snapshot.agents[0].name = "Alice; Archer"
    with pytest.raises(ConfigValueError) as info:
        render(snapshot, good_settings(tmp_path))
    assert str(info.value) == (
        "agent 'alice' field 'name': contains ';' which would start a comment in a caller ID name in pjsip.conf"
    )
    assert (info.value.record, info.value.field, info.value.file) == ("agent 'alice'", "name", "pjsip.conf")


def test_reserved_and_duplicate_names_refused(tmp_path):
    snapshot = good_snapshot()
    snapshot.agents[1].sip_username = "trunk"
    with pytest.raises(ConfigValueError, match=r"agent 'bob' field 'sip_username': 'trunk' is reserved"):
        render(snapshot, good_settings(tmp_path))
    snapshot.agents[1].sip_username = "agent1001"
    with pytest.raises(ConfigValueError, match=r"agent 'bob' field 'sip_username': 'agent1001' is already"):
        render(snapshot, good_settings(tmp_path))
    snapshot = good_snapshot()
    snapshot.inbound_numbers.append(m.InboundNumber(id=2, number="+442071838750", target_type="ivr", target_id=1))
    with pytest.raises(ConfigValueError, match=r"inbound number '\+442071838750' field 'number': .* listed twice"):
        render(snapshot, good_settings(tmp_path))


def test_good_snapshot_renders(tmp_path):
    files = render(good_snapshot(), good_settings(tmp_path))
    assert 'callerid = "Bob Baker" <1002>' in files["pjsip.conf"]


def test_disabled_agent_gets_no_sip_account(tmp_path):
    snapshot = good_snapshot()
    snapshot.agents[1].admin_status = "disabled"
    snapshot.agents[1].name = "bad ; name"  # not written, so not refused
    pjsip = render(snapshot, good_settings(tmp_path))["pjsip.conf"]
    assert "[agent1002]" not in pjsip and "[agent1001]" in pjsip


def test_template_cannot_print_an_unvalidated_value():
    env = _environment()
    with pytest.raises(ConfigValueError, match="without passing conf_value"):
        env.from_string("password = {{ value }}\n").render(value="plain string")
    with pytest.raises(ConfigValueError):
        env.from_string("port = {{ value }}\n").render(value=5060)
    ok = conf_value("fine", "test", "field", "value", "x.conf")
    assert env.from_string("v = {{ value }}").render(value=ok) == "v = fine"


def test_hand_edited_database_is_refused_by_generate(demo_db, tmp_path, out_dir, capsys):
    """A value written behind the store's back (raw SQL) stops `config generate`; nothing is written."""
    with session_scope(demo_db) as session:
        session.execute(text("UPDATE agent SET name = :n WHERE username = 'bob'"), {"n": "Bob\n[evil]\ntype=endpoint"})
    settings = dataclasses.replace(good_settings(tmp_path), database_url=demo_db)
    before = _listing(out_dir)
    assert cmd_generate(settings, out_dir) == 1
    err = capsys.readouterr().err
    assert "agent 'bob' field 'name': contains a line break" in err
    assert _listing(out_dir) == before


def test_generate_without_a_database_says_so(tmp_path, capsys):
    settings = dataclasses.replace(good_settings(tmp_path), database_url=f"sqlite:///{tmp_path / 'empty.db'}")
    assert cmd_generate(settings, tmp_path / "out") == 2
    assert "could not read the database" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
