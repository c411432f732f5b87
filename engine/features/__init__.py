"""features capability of the Switchboard engine."""
