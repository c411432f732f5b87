"""pbx capability of the Switchboard engine."""
