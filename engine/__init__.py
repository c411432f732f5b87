"""Switchboard: a call-control engine for contact centres on a real Asterisk PBX."""
