"""config capability of the Switchboard engine."""
