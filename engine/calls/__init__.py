"""calls capability of the Switchboard engine."""
