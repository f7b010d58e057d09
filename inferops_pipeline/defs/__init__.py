"""defs stage."""
