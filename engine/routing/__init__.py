"""routing capability of the Switchboard engine."""
