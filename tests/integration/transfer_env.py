"""The transfer tests' phones: an agent's SIPp that answers, then keys digits over SIP INFO.

Digits go as SIP INFO (`application/dtmf-relay`): DESIGN.md found the RFC 2833 captures
merge when played back to back, while INFO digits arrive in ARI in order (Asterisk's
res_pjsip_dtmf_info accepts INFO even on an endpoint with dtmf_mode=rfc4733). The
scenario is generated per test from a list of steps:
    ("pause", ms)       wait
    ("keys", "#12002#")  one INFO per digit, 120 ms apart (no pause after the last);
                        ("keys", "#12002#", 250): 250 ms apart
    ("rtp_keys", "keys.pcap", 1.2)  RFC 4733 key presses, as a softphone sends them (a pcap
                        written by tests/audio/rtp.write_dtmf_pcap, played from SIPp's directory)
    ("refer", "2007")   the phone's transfer button: REFER to that extension (then 202)
    ("bye",)            the agent hangs up
    ("wait_bye",)       wait for the far end's BYE (the default ending)
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlmodel import select

from engine.store import models as m
from engine.store.session import session_scope
from tests.audio.rtp import write_dtmf_pcap
from tests.integration.routing_env import eventually

HEAD = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="agent_keys">
  <recv request="INVITE" crlf="true" rrs="true">{dialog}
  </recv>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0 101
      a=rtpmap:0 PCMU/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-16
    ]]>
  </send>
  <recv request="ACK" crlf="true"/>
"""

# The INVITE's From and To, kept for the requests the phone sends in the dialog (SIPp
# refuses a scenario that assigns a variable it never uses: only when there are some).
DIALOG = """
    <action>
      <ereg regexp=".*" search_in="hdr" header="From:" assign_to="remote_from"/>
      <ereg regexp=".*" search_in="hdr" header="To:" assign_to="local_to"/>
    </action>"""

REQUEST = """  <send retrans="500">
    <![CDATA[
      {method} [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      Max-Forwards: 70
      From:[$local_to];tag=[pid]SIPpTag01[call_number]
      To:[$remote_from]
      Call-ID: [call_id]
      CSeq: {cseq} {method}
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
{headers}      Content-Length: [len]
{body}
    ]]>
  </send>
"""



_OK = """  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
"""

# The far end's BYE, answering any NOTIFY before it (a REFER's progress reports).
WAIT_BYE = """  <label id="90"/>
  <recv request="BYE" optional="true" next="91"/>
  <recv request="NOTIFY"/>
""" + _OK.replace("  <send>", '  <send next="90">', 1) + """  <label id="91"/>
""" + _OK


def agent_scenario(path: Path, steps: list[tuple]) -> str:
    """Write the scenario; returns its absolute path (Sipp.start accepts it)."""
    sends = any(step[0] in ("keys", "refer", "bye") for step in steps)
    out, cseq = [HEAD.replace("{dialog}", DIALOG if sends else "")], 0
    if not steps or steps[-1][0] not in ("bye", "wait_bye"):
        steps = [*steps, ("wait_bye",)]
    for step in steps:
        kind = step[0]
        if kind == "pause":
            out.append(f'  <pause milliseconds="{int(step[1])}"/>\n')
        elif kind == "keys":
            gap = step[2] if len(step) > 2 else 120
            for n, digit in enumerate(step[1]):
                if n:  # no pause after the last digit: the engine may act (and BYE) at once
                    out.append(f'  <pause milliseconds="{gap}"/>\n')
                cseq += 1
                out.append(REQUEST.format(method="INFO", cseq=cseq, headers="      Content-Type: application/dtmf-relay\n",
                                          body=f"\n      Signal={digit}\n      Duration=100\n"))
                out.append('  <recv response="200"/>\n')
        elif kind == "rtp_keys":  # ("rtp_keys", pcap file name in SIPp's directory, seconds it lasts)
            out.append(f'  <nop>\n    <action>\n      <exec play_pcap_audio="{step[1]}"/>\n    </action>\n  </nop>\n')
            out.append(f'  <pause milliseconds="{int(step[2] * 1000) + 100}"/>\n')
        elif kind == "refer":
            cseq += 1
            uri = step[1] if "@" in step[1] else f"{step[1]}@127.0.0.1"  # "2007@host?Replaces=..." as is
            out.append(REQUEST.format(method="REFER", cseq=cseq,
                                      headers=f"      Refer-To: <sip:{uri}>\n"
                                              "      Referred-By: <sip:[local_ip]:[local_port]>\n", body="\n"))
            out.append('  <recv response="202"/>\n')  # its NOTIFYs are answered by WAIT_BYE
        elif kind == "bye":
            cseq += 1
            out.append(REQUEST.format(method="BYE", cseq=cseq, headers="", body="\n"))
            out.append('  <recv response="200"/>\n')
        elif kind == "wait_bye":
            out.append(WAIT_BYE)
    out.append("</scenario>\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(out))
    return str(path.resolve())


# -- the transfer tests' shared steps -------------------------------------------------------
def timeline(url: str, call_id: str) -> list[tuple[str, dict]]:
    with session_scope(url) as s:
        return [(e.kind, e.detail) for e in s.exec(select(m.CallEvent).where(m.CallEvent.call_id == call_id)
                                                     .order_by(m.CallEvent.at, m.CallEvent.id)).all()]


def kinds(url: str, call_id: str) -> list[str]:
    return [k for k, _ in timeline(url, call_id)]


async def kinds_once(world, call, kind: str, timeout: float = 5) -> list[str]:
    """The call's timeline kinds once `kind` is on it (the engine writes the record behind
    the call, so a test that has just seen the effect may be a moment ahead of the row)."""
    found = await eventually(lambda: (lambda ks: ks if kind in ks else None)(kinds(world.url, call.id)), timeout)
    assert found, f"no {kind} on the timeline: {kinds(world.url, call.id)}"
    return found


async def agent_keys(world, intercom: int, steps: list[tuple], timeout: float = 40, rtp_keys: str | None = None,
                     extra: list[str] = ()):
    """Register `intercom` and start its phone: answer, then the steps (keys over INFO).
    `rtp_keys`: the phone then also presses these keys as RFC 4733 events (after the steps
    that come before a ("rtp_keys",) step, which is added at the end when there is none)."""
    await world.sipp.register(intercom)
    files = {}
    if rtp_keys:
        pcap = world.sipp.workdir / f"keys-{intercom}-{len(world.sipp.procs)}.pcap"
        pcap.parent.mkdir(parents=True, exist_ok=True)
        seconds = write_dtmf_pcap(pcap, rtp_keys)
        files["keys.pcap"] = pcap
        steps = [s if s[0] != "rtp_keys" else ("rtp_keys", "keys.pcap", seconds) for s in steps]
        if not any(s[0] == "rtp_keys" for s in steps):
            steps = [*steps, ("rtp_keys", "keys.pcap", seconds)]
    path = agent_scenario(world.sipp.workdir / f"agent{intercom}-{len(world.sipp.procs)}.xml", steps)
    return await world.sipp.start(path, port=world.sipp.agent_port(intercom), timeout=timeout, files=files,
                                  extra=extra)


async def connected_call(world, port: int = 5601, exclude: set = frozenset()):
    """Start a caller to `T longest_idle`; returns (caller proc, LiveCall) once connected to 2006."""
    caller = await world.sipp.call("longest_idle", port, scenario="uac_wait_bye.xml", timeout=40)
    assert await eventually(lambda: world.state(2006) == "in_call", 10), world.states_of(2006)
    call = next(c for c in world.engine.calls.values() if c.id not in exclude)
    return caller, call


async def bridge_members(world, call) -> list[str]:
    bridges = {b["id"]: b for b in await world.ari("GET", "bridges")}
    return sorted(bridges.get(f"call-{call.id}", {}).get("channels", []))


async def members_once(world, call, count: int, timeout: float = 5) -> list[str]:
    """The call's bridge members once there are `count` of them (channels move one by one)."""
    async def counted():
        members = await bridge_members(world, call)
        return members if len(members) == count else None

    members = await eventually(counted, timeout)
    assert members, f"the call's bridge never had {count} members: {await bridge_members(world, call)}"
    return members


async def hang_up_caller(world, call, caller):
    await world.ari("DELETE", f"channels/{call.caller_channel_id}")
    assert await asyncio.wait_for(caller.wait(), 10) == 0
