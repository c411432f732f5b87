"""agents capability of the Switchboard engine."""
