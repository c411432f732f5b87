"""Render the Asterisk configuration from the store: `generate()` = `load_snapshot()` + `render()`.

The render step builds one plain dict per file in which every printable value is a
`ConfValue` (see values.py), then hands it to a Jinja2 template in `asterisk-config/` or
`dialplan/`. Templates hold the layout and the comments a PBX admin reads; this module holds
the decisions (who gets an endpoint, which zone the tones use) and the checks.

Deterministic by construction: the snapshot is ordered, contexts are lists built in that
order, no timestamps or random values are written, and secrets come from the settings.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import jinja2
from sqlmodel import Session

from engine.settings import PROJECT_ROOT, Settings
from engine.store import models as m

from .snapshot import Snapshot, load_snapshot
from .values import ConfigValueError, ConfValue, conf_value, refuse_unvalidated

TEMPLATE_DIRS = (PROJECT_ROOT / "asterisk-config", PROJECT_ROOT / "dialplan")

# Output file -> template. Order is the order files are written, checked and reloaded.
TEMPLATES: dict[str, str] = {
    "asterisk.conf": "asterisk.conf.j2",
    "modules.conf": "modules.conf.j2",
    "logger.conf": "logger.conf.j2",
    "pjsip.conf": "pjsip.conf.j2",
    "extensions.conf": "extensions.conf.j2",
    "ari.conf": "ari.conf.j2",
    "http.conf": "http.conf.j2",
    "manager.conf": "manager.conf.j2",
    "musiconhold.conf": "musiconhold.conf.j2",
    "indications.conf": "indications.conf.j2",
    "rtp.conf": "rtp.conf.j2",
    "acl.conf": "acl.conf.j2",
    "ccss.conf": "ccss.conf.j2",
    "cdr.conf": "cdr.conf.j2",
    "cel.conf": "cel.conf.j2",
    "features.conf": "features.conf.j2",
    "pjproject.conf": "pjproject.conf.j2",
    "udptl.conf": "udptl.conf.j2",
    "websocket_client.conf": "websocket_client.conf.j2",
}

# Everything listens on loopback: the engine, SIPp and the sandbox share one host. A
# production PBX puts a SIP-aware firewall or proxy in front rather than opening these.
BIND_ADDRESS = "127.0.0.1"
MOH_DIR = "/usr/share/asterisk/moh"
# Indication zones this generator writes, by the ISO region that selects them.
ZONE_BY_REGION = {"GB": "uk", "US": "us"}
DEFAULT_ZONE = "us"
# PJSIP object names the generator uses itself; an agent may not take them.
RESERVED_ENDPOINTS = {"trunk"}
AGENT_CONTEXT = "agents"
TRUNK_CONTEXT = "from-trunk"


def generate(session: Session, settings: Settings) -> dict[str, str]:
    """Every generated file, filename -> content, from the database and the settings."""
    return render(load_snapshot(session), settings)


def render(snapshot: Snapshot, settings: Settings) -> dict[str, str]:
    """Render `snapshot` with `settings`. Raises ConfigValueError before producing anything."""
    contexts = _Contexts(snapshot, settings).build()
    env = _environment()
    return {name: env.get_template(template).render(**contexts[name]) for name, template in TEMPLATES.items()}


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(d) for d in TEMPLATE_DIRS]),
        undefined=jinja2.StrictUndefined,
        finalize=refuse_unvalidated,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def agent_label(agent: m.Agent) -> str:
    return f"agent {agent.username!r}"


def comment(value, record: str, field: str, file: str) -> str:
    """A piece of a comment, checked on its own so an error blames the right field.

    The whole comment is checked again once assembled (pieces are joined by fixed text).
    """
    return conf_value("" if value is None else str(value), record, field, "comment", file)


class _Contexts:
    """Builds the validated template context of every file."""

    def __init__(self, snapshot: Snapshot, settings: Settings):
        self.snap = snapshot
        self.settings = settings

    # -- helpers ---------------------------------------------------------------------------
    def setting(self, name: str, kind: str, file: str) -> ConfValue:
        return conf_value(getattr(self.settings, name), "settings", name, kind, file)

    @staticmethod
    def const(value: str) -> ConfValue:
        """A literal chosen by this module (never from the database or the environment)."""
        return ConfValue(value)

    def endpoint_agents(self) -> list[m.Agent]:
        """Agents that get a SIP account: all but the disabled ones (they cannot register)."""
        return [a for a in self.snap.agents if a.admin_status != "disabled"]

    def target_text(self, target_type: str, target_id, file: str) -> str:
        """How a comment names an inbound number's target; the target's name is checked too."""
        tables = {"department": self.snap.departments, "ivr": self.snap.ivrs, "agent": self.snap.agents}
        for row in tables.get(target_type, []):
            if row.id == target_id:
                label = agent_label(row) if target_type == "agent" else f"{target_type} {row.name!r}"
                return f"{target_type} {comment(row.name, label, 'name', file)}"
        return f"{target_type} #{target_id} (not found)"

    # -- files -----------------------------------------------------------------------------
    def build(self) -> dict[str, dict]:
        settings_ctx = {"bind": self.const(BIND_ADDRESS)}
        contexts = {name: {} for name in TEMPLATES}
        contexts["pjsip.conf"] = self.pjsip()
        contexts["extensions.conf"] = self.extensions()
        contexts["ari.conf"] = self.ari()
        contexts["http.conf"] = {**settings_ctx, "port": self.setting("http_port", "port", "http.conf")}
        contexts["manager.conf"] = self.manager()
        contexts["musiconhold.conf"] = self.musiconhold()
        contexts["indications.conf"] = self.indications()
        return contexts

    def pjsip(self) -> dict:
        file = "pjsip.conf"
        agents = []
        seen: dict[str, str] = {}
        for agent in self.endpoint_agents():
            label = agent_label(agent)
            sip = conf_value(agent.sip_username, label, "sip_username", "name", file)
            if sip in RESERVED_ENDPOINTS:
                raise ConfigValueError(label, "sip_username", f"{sip!r} is reserved for the {sip} endpoint in {file}", file)
            if sip in seen:
                raise ConfigValueError(label, "sip_username", f"{sip!r} is already the SIP user name of {seen[sip]}", file)
            seen[sip] = label
            number = agent.extension_caller_id or agent.intercom
            agents.append({
                "sip_username": sip,
                "auth": self.const(f"{sip}-auth"),
                "password": conf_value(agent.sip_password, label, "sip_password", "value", file),
                "callerid_name": conf_value(agent.name, label, "name", "callerid_name", file),
                "callerid_number": conf_value(
                    number, label, "extension_caller_id" if agent.extension_caller_id else "intercom",
                    "e164" if agent.extension_caller_id else "digits", file),
                "comment": conf_value(
                    f"{agent.name} (username {comment(agent.username, label, 'username', file)}, "
                    f"intercom {comment(agent.intercom, label, 'intercom', file)}, "
                    f"{comment(agent.admin_status, label, 'admin_status', file)})",
                    label, "name", "comment", file),
            })
        return {
            "bind": self.const(BIND_ADDRESS),
            "sip_port": self.setting("sip_port", "port", file),
            "agents": agents,
            "agent_context": self.const(AGENT_CONTEXT),
            "trunk_context": self.const(TRUNK_CONTEXT),
            "trunk_host": self.setting("trunk_host", "host", file),
            "trunk_port": self.setting("trunk_port", "port", file),
        }

    def extensions(self) -> dict:
        file = "extensions.conf"
        app = self.setting("ari_app", "name", file)
        inbound = []
        seen: dict[str, str] = {}
        for row in self.snap.inbound_numbers:
            label = f"inbound number {row.number!r}"
            number = conf_value(row.number, label, "number", "e164", file)
            if number in seen:
                raise ConfigValueError(label, "number", f"{number} is listed twice (also {seen[number]})", file)
            seen[number] = label
            about = comment(row.description, label, "description", file) or "(no description)"
            target = self.target_text(row.target_type, row.target_id, file)
            inbound.append({
                "number": number,
                "digits": self.const(number[1:]),
                "comment": conf_value(f"{number}: {about} -> {target}", label, "description", "comment", file),
            })
        return {"app": app, "inbound": inbound,
                "agent_context": self.const(AGENT_CONTEXT), "trunk_context": self.const(TRUNK_CONTEXT)}

    def ari(self) -> dict:
        file = "ari.conf"
        return {"user": self.setting("ari_user", "name", file),
                "password": self.setting("ari_password", "value", file)}

    def manager(self) -> dict:
        file = "manager.conf"
        return {"bind": self.const(BIND_ADDRESS),
                "port": self.setting("ami_port", "port", file),
                "user": self.setting("ami_user", "name", file),
                "secret": self.setting("ami_password", "value", file)}

    def musiconhold(self) -> dict:
        file = "musiconhold.conf"
        users: dict[str, list[str]] = {"default": []}
        for dept in self.snap.departments:
            label = f"department {dept.name!r}"
            cls = conf_value(dept.moh_class, label, "moh_class", "name", file)
            if cls.lower() == "general":
                raise ConfigValueError(label, "moh_class", "'general' is the [general] section of musiconhold.conf", file)
            users.setdefault(cls, []).append(comment(dept.name, label, "name", file))
        classes = []
        for cls in sorted(users, key=lambda c: (c != "default", c)):
            used_by = ", ".join(users[cls]) or "nobody yet (the fallback class)"
            classes.append({
                "name": self.const(cls),
                "directory": self.const(MOH_DIR if cls == "default" else f"{MOH_DIR}/{cls}"),
                "comment": conf_value(f"used by: {used_by}", f"music-on-hold class {cls!r}", "departments",
                                      "comment", file),
            })
        return {"classes": classes}

    def indications(self) -> dict:
        file = "indications.conf"
        override = getattr(self.settings, "indications_country", None)
        if override:
            zone = conf_value(override, "settings", "indications_country", "zone", file)
            if zone not in ZONE_BY_REGION.values():
                raise ConfigValueError("settings", "indications_country",
                                       f"{zone!r} is not one of the zones written: {', '.join(sorted(set(ZONE_BY_REGION.values())))}",
                                       file)
            why = "set by settings.indications_country"
        else:
            counts = Counter((a.region or "").upper() for a in self.endpoint_agents())
            # Most agents first; ties broken by region code so the choice is deterministic.
            ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
            region = ranked[0][0] if ranked else ""
            zone = self.const(ZONE_BY_REGION.get(region, DEFAULT_ZONE))
            # The comment names the region only (not the counts), so adding an agent does not
            # change this file, and `apply` does not reload indications for nothing.
            if not region:
                why = f"the agents' most common region (there are no agents yet, so {DEFAULT_ZONE})"
            elif region in ZONE_BY_REGION:
                why = f"the agents' most common region, {region}"
            else:
                why = f"the agents' most common region, {region}, which has no zone here, so {DEFAULT_ZONE}"
        return {"country": zone, "why": conf_value(why, "settings", "indications_country", "comment", file)}


def render_and_write(snapshot: Snapshot, settings: Settings, out_dir: Path | str) -> Path:
    """Render, then write all files; a refused value raises before anything is written."""
    return write(render(snapshot, settings), out_dir)


def write(files: dict[str, str], out_dir: Path | str) -> Path:
    """Write `files` into `out_dir` all-or-nothing; see files.py."""
    from .files import write_all

    return write_all(files, Path(out_dir))


__all__ = ["TEMPLATES", "ConfigValueError", "Snapshot", "generate", "load_snapshot", "render", "render_and_write", "write"]
