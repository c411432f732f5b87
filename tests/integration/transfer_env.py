"""The transfer tests' phones: an agent's SIPp that answers, then keys digits over SIP INFO.

Digits go as SIP INFO (`application/dtmf-relay`): DESIGN.md found the RFC 2833 captures
merge when played back to back, while INFO digits arrive in ARI in order (Asterisk's
res_pjsip_dtmf_info accepts INFO even on an endpoint with dtmf_mode=rfc4733). The
scenario is generated per test from a list of steps:
    ("pause", ms)       wait
    ("keys", "#12002#")  one INFO per digit, 120 ms apart (no pause after the last)
    ("bye",)            the agent hangs up
    ("wait_bye",)       wait for the far end's BYE (the default ending)
"""

from __future__ import annotations

from pathlib import Path

HEAD = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="agent_keys">
  <recv request="INVITE" crlf="true" rrs="true">
    <action>
      <ereg regexp=".*" search_in="hdr" header="From:" assign_to="remote_from"/>
      <ereg regexp=".*" search_in="hdr" header="To:" assign_to="local_to"/>
    </action>
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
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000
    ]]>
  </send>
  <recv request="ACK" crlf="true"/>
"""

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

WAIT_BYE = """  <recv request="BYE"/>
""" + _OK


def agent_scenario(path: Path, steps: list[tuple]) -> str:
    """Write the scenario; returns its absolute path (Sipp.start accepts it)."""
    out, cseq = [HEAD], 0
    if not steps or steps[-1][0] not in ("bye", "wait_bye"):
        steps = [*steps, ("wait_bye",)]
    for step in steps:
        kind = step[0]
        if kind == "pause":
            out.append(f'  <pause milliseconds="{int(step[1])}"/>\n')
        elif kind == "keys":
            for n, digit in enumerate(step[1]):
                if n:  # no pause after the last digit: the engine may act (and BYE) at once
                    out.append('  <pause milliseconds="120"/>\n')
                cseq += 1
                out.append(REQUEST.format(method="INFO", cseq=cseq, headers="      Content-Type: application/dtmf-relay\n",
                                          body=f"\n      Signal={digit}\n      Duration=100\n"))
                out.append('  <recv response="200"/>\n')
        elif kind == "refer":
            cseq += 1
            out.append(REQUEST.format(method="REFER", cseq=cseq,
                                      headers=f"      Refer-To: <sip:{step[1]}@127.0.0.1>\n"
                                              "      Referred-By: <sip:[local_ip]:[local_port]>\n", body="\n"))
            out.append('  <recv response="202"/>\n')
            out.append('  <recv request="NOTIFY" optional="false"/>\n' + _OK)
        elif kind == "notify":
            out.append('  <recv request="NOTIFY"/>\n' + _OK)
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


