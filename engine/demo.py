"""`switchboard demo`: the main job on the embedded default.

Seeds the demo database (once), generates the Asterisk configuration from it, brings the
sandbox Asterisk up with that configuration, prints how to register a softphone and which
number to call, then runs the engine and the dashboard in the foreground until Ctrl-C.
"""

from __future__ import annotations

from sqlmodel import select

from .settings import Settings
from .store import models as m
from .store.session import session_scope

SIPP_CALLER_HINT = (
    "sipp -sn uac -s {number} -i 127.0.0.1 -p {trunk_port} -m 1 -d 10000 127.0.0.1:{sip_port}"
)


def demo_instructions(settings: Settings) -> str:
    """What a person needs to try the demo: softphone accounts and the number to call."""
    lines = ["", "Switchboard demo is up.", ""]
    with session_scope(settings.database_url) as session:
        agents = session.exec(select(m.Agent).order_by(m.Agent.id)).all()
        numbers = session.exec(select(m.InboundNumber).order_by(m.InboundNumber.id)).all()
    lines.append(f"Register a softphone (UDP, server 127.0.0.1:{settings.sip_port}) as a demo agent:")
    for agent in agents:
        lines.append(
            f"  {agent.name:<14} user {agent.sip_username}  password {agent.sip_password}  intercom {agent.intercom}"
        )
    lines.append("")
    lines.append(f"Inbound numbers (calls arrive through the trunk from 127.0.0.1:{settings.trunk_port}):")
    for number in numbers:
        lines.append(f"  {number.number}  {number.description or '(no description)'}")
    if numbers:
        lines.append("")
        lines.append("Call one from this machine with SIPp, for example:")
        lines.append(
            "  " + SIPP_CALLER_HINT.format(number=numbers[0].number, trunk_port=settings.trunk_port,
                                          sip_port=settings.sip_port)
        )
    lines.append("")
    from web.app import web_port

    lines.append(f"Dashboard and agent desktop: http://127.0.0.1:{web_port(settings)}/  (log in as supervisor / "
                 "super-pass-1, admin / admin-pass-1, or an agent: alice / agent-pass-1)")
    lines.append("An agent signs in on the desktop and picks Ready; the Sales hotline then rings their softphone.")
    lines.append(f"ARI: {settings.ari_url}ari  AMI: {settings.pbx_host}:{settings.ami_port}")
    lines.append("Stop with Ctrl-C (the engine); `switchboard pbx down` stops Asterisk.")
    return "\n".join(lines)


def run_demo(settings: Settings, reset: bool = False) -> int:
    from .cli import seed_demo_database
    from .config import cli as config_cli
    from .pbx import sandbox_cli
    from .runtime.cli import run_engine

    for step in (
        lambda: seed_demo_database(settings, reset=reset),
        lambda: config_cli.cmd_generate(settings, settings.generated_config_dir),
        lambda: sandbox_cli.pbx_up(settings, settings.generated_config_dir),
    ):
        rc = step()
        if rc:
            return rc
    print(demo_instructions(settings), flush=True)
    return run_engine(settings)
